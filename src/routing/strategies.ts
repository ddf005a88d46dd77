// Load-balancing strategies: small pure functions that pick one of the candidates a
// route has right now (already filtered to the available ones, in config order). Each
// returns an index into `candidates`. Mutable per-route memory (round-robin cursor,
// smooth-weighted current weights) is passed in; randomness comes from `rng` so tests
// can fix it.

import type { Strategy } from "../config/types.ts";

export interface Candidate {
  /** Stable identity across requests (backend name + upstream model). */
  readonly key: string;
  readonly weight: number;
  readonly inflight: number;
  /** EWMA of time to response headers, ms; null before the first sample. */
  readonly ewmaMs: number | null;
}

export type Rng = () => number;

/** What a route remembers between picks. Reset when a reload builds a new route. */
export class StrategyMemory {
  cursor = 0;
  /** Smooth weighted round robin: each candidate's current weight, by key. */
  readonly current = new Map<string, number>();
}

export function pickRoundRobin(c: readonly Candidate[], mem: StrategyMemory): number {
  return mem.cursor++ % c.length;
}

/**
 * Smooth weighted round robin, as nginx does it: every pick adds each candidate's weight
 * to its current weight, takes the largest, and subtracts the total from the winner.
 * Over any window of sum(weights) picks each candidate is picked weight times, spread
 * out rather than in runs (5:1:1 gives a a b a c a a, not a a a a a b c).
 */
export function pickWeighted(c: readonly Candidate[], mem: StrategyMemory): number {
  let total = 0;
  let best = -1;
  let bestWeight = -Infinity;
  for (let i = 0; i < c.length; i++) {
    const w = c[i]!.weight;
    if (w <= 0) continue;
    total += w;
    const cw = (mem.current.get(c[i]!.key) ?? 0) + w;
    mem.current.set(c[i]!.key, cw);
    if (cw > bestWeight) {
      bestWeight = cw;
      best = i;
    }
  }
  if (best < 0) return 0; // every weight 0 (the config check refuses that for weighted routes)
  mem.current.set(c[best]!.key, bestWeight - total);
  return best;
}

/** Two distinct random indexes (the same one twice when there is only one). */
function twoChoices(n: number, rng: Rng): [number, number] {
  const a = Math.floor(rng() * n);
  if (n === 1) return [a, a];
  let b = Math.floor(rng() * (n - 1));
  if (b >= a) b++;
  return [a, b];
}

/**
 * Power of two choices on requests in flight: look at two random candidates, take the
 * one with fewer in flight. Nearly as good as scanning all, without herding every
 * request onto the single least-loaded backend between updates.
 */
export function pickLeastInflight(c: readonly Candidate[], rng: Rng): number {
  if (c.length === 1) return 0;
  const [a, b] = twoChoices(c.length, rng);
  return c[b]!.inflight < c[a]!.inflight ? b : a;
}

/** Share of picks that ignore latency, so a recovered or slow-once backend is measured again. */
export const EXPLORE = 0.05;

/**
 * Lowest expected wait: power of two choices on EWMA time-to-first-byte scaled by load
 * (ewma * (inflight + 1)). A candidate never measured is tried first; with probability
 * EXPLORE a random one is taken, so old measurements get refreshed.
 */
export function pickLatency(c: readonly Candidate[], rng: Rng): number {
  if (c.length === 1) return 0;
  for (let i = 0; i < c.length; i++) if (c[i]!.ewmaMs === null) return i;
  if (rng() < EXPLORE) return Math.floor(rng() * c.length);
  const [a, b] = twoChoices(c.length, rng);
  const cost = (x: Candidate) => x.ewmaMs! * (x.inflight + 1);
  return cost(c[b]!) < cost(c[a]!) ? b : a;
}

/** The first available candidate in config order: primary, then backups. */
export function pickPriority(_c: readonly Candidate[]): number {
  return 0;
}

export function pick(strategy: Strategy, c: readonly Candidate[], mem: StrategyMemory, rng: Rng): number {
  switch (strategy) {
    case "round_robin":
      return pickRoundRobin(c, mem);
    case "weighted":
      return pickWeighted(c, mem);
    case "least_inflight":
      return pickLeastInflight(c, rng);
    case "latency":
      return pickLatency(c, rng);
    case "priority":
      return pickPriority(c);
  }
}
