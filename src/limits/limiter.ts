// Rate limits at three scopes (global, per key, per model), each with up to three kinds
// (requests per minute, tokens per minute, concurrent requests).
//
// The daemon keeps one RateLimiter for the process and passes the current limits with
// every call, so a reload changes limits without forgetting what was used; a limit set
// to null drops its state. A request is checked against every scope first and consumes
// from them only if all pass: a request refused by its model's limit must not have
// used up its key's or the global budget.

import type { ConcurrencyLimit } from "./concurrency.ts";
import { limitsAnything, ScopeState } from "./scope-state.ts";
import type { TokenBucket } from "./token-bucket.ts";
import type { Admission, LimitSpec, LimitState, Refusal, Scope } from "./types.ts";

export interface AdmitRequest {
  /** null when auth is off: no per-key scope. */
  keyId: string | null;
  key: LimitSpec | null;
  model: string;
  modelLimits: LimitSpec | null;
  global: LimitSpec | null;
  /** Tokens reserved against every TPM limit until settle() gives the real count. */
  estimatedTokens: number;
}

/**
 * Retry-After for a concurrency refusal. A slot frees when some request in flight ends,
 * which no clock can tell; 1 s is short against LLM response times yet keeps a client
 * that honours it (the OpenAI SDKs do, through retry-after-ms) from spinning.
 */
export const CONCURRENCY_RETRY_MS = 1000;

/**
 * Per-key state is dropped once idle (see ScopeState.isIdle) by a sweep that looks at
 * this many key entries (and one model entry) per admit. A constant, small amount of
 * work per request instead of an occasional pause over 10 000+ keys; each entry is
 * visited every size/SWEEP_STEPS admits, so a map with n active keys holds at most
 * a few times n entries, however many keys have stopped sending.
 */
const SWEEP_STEPS = 2;

type Kind = Refusal["kind"];
type Cursor = Iterator<ScopeState>;

export class RateLimiter {
  private global: ScopeState | null = null;
  private readonly keys = new Map<string, ScopeState>();
  private readonly models = new Map<string, ScopeState>();
  private keyCursor: Cursor | null = null;
  private modelCursor: Cursor | null = null;
  // The worst refusal found by check(), kept in fields so the hot path allocates nothing.
  private waitMs = 0;
  private waitScope: Scope = "global";
  private waitKind: Kind = "requests";

  admit(req: AdmitRequest, now: number): Admission | Refusal {
    // Sweep first: it may drop an idle state, which must not be one this call then uses.
    this.sweepStep(now);
    const estimate = req.estimatedTokens > 0 ? req.estimatedTokens : 0;
    const g = this.syncGlobal(req.global, now);
    const k = req.keyId === null ? null : syncNamed(this.keys, req.keyId, req.key, now);
    const m = syncNamed(this.models, req.model, req.modelLimits, now);

    this.waitMs = 0;
    this.check(k, "key", estimate, now);
    this.check(m, "model", estimate, now);
    this.check(g, "global", estimate, now);
    if (this.waitMs > 0) {
      return {
        ok: false,
        scope: this.waitScope,
        kind: this.waitKind,
        retryAfterMs: this.waitMs,
        requests: tightest(g?.rpm, k?.rpm, m?.rpm, now),
        tokens: tightest(g?.tpm, k?.tpm, m?.tpm, now),
      };
    }

    const admission = new LimitAdmission(estimate);
    admission.global = consume(g, estimate, now);
    admission.key = consume(k, estimate, now);
    admission.model = consume(m, estimate, now);
    admission.requests = tightest(g?.rpm, k?.rpm, m?.rpm, now);
    admission.tokens = tightest(g?.tpm, k?.tpm, m?.tpm, now);
    return admission;
  }

  /** How many named states are held (for tests and metrics). */
  stats(): { keys: number; models: number } {
    return { keys: this.keys.size, models: this.models.size };
  }

  /** Drops every idle state at once; the per-admit sweep makes calling this optional. */
  sweepIdle(now: number): number {
    let dropped = 0;
    for (const map of [this.keys, this.models]) {
      for (const state of map.values()) {
        if (state.isIdle(now)) {
          map.delete(state.name);
          dropped++;
        }
      }
    }
    return dropped;
  }

  private syncGlobal(spec: LimitSpec | null, now: number): ScopeState | null {
    if (spec === null || !limitsAnything(spec)) return (this.global = null);
    const state = this.global ?? new ScopeState("global");
    state.sync(spec, now);
    return (this.global = state);
  }

  /** Records the longest wait among the kinds of one scope that refuse this request. */
  private check(s: ScopeState | null, scope: Scope, estimate: number, now: number): void {
    if (s === null) return;
    if (s.rpm !== null) this.refuse(s.rpm.msUntil(1, now), scope, "requests");
    if (s.tpm !== null) this.refuse(s.tpm.msUntil(estimate, now), scope, "tokens");
    if (s.concurrency !== null && !s.concurrency.hasRoom()) this.refuse(CONCURRENCY_RETRY_MS, scope, "concurrency");
  }

  // Retry-After is the longest wait, not the first found: retrying after a shorter one
  // would only be refused again by the other limit.
  private refuse(ms: number, scope: Scope, kind: Kind): void {
    if (ms <= this.waitMs) return;
    this.waitMs = ms;
    this.waitScope = scope;
    this.waitKind = kind;
  }

  private sweepStep(now: number): void {
    this.keyCursor = sweep(this.keys, this.keyCursor, SWEEP_STEPS, now);
    this.modelCursor = sweep(this.models, this.modelCursor, 1, now);
  }
}

/** The state of a named scope, created, updated or dropped to match its limits. */
function syncNamed(map: Map<string, ScopeState>, name: string, spec: LimitSpec | null, now: number): ScopeState | null {
  if (spec === null || !limitsAnything(spec)) {
    map.delete(name);
    return null;
  }
  let state = map.get(name);
  if (state === undefined) {
    state = new ScopeState(name);
    map.set(name, state);
  }
  state.sync(spec, now);
  return state;
}

/** Takes one request, the estimate and a slot from a scope that check() has passed. */
function consume(s: ScopeState | null, estimate: number, now: number): Hold | null {
  if (s === null) return null;
  s.rpm?.reserve(1, now);
  s.tpm?.reserve(estimate, now);
  s.concurrency?.acquire();
  s.pending++;
  return new Hold(s);
}

/**
 * Looks at up to `steps` entries after the cursor and drops the idle ones. A Map
 * iterator stays valid while entries are deleted and added (it visits additions made
 * before it reaches the end), so one cursor walks the map round and round. It walks
 * values, not entries: an entry is a fresh [name, state] array per step.
 */
function sweep(map: Map<string, ScopeState>, cursor: Cursor | null, steps: number, now: number): Cursor | null {
  if (map.size === 0) return null;
  const it = cursor ?? map.values();
  for (let i = 0; i < steps; i++) {
    const next = it.next();
    // at the end, the next round starts at the next admit: at most one new iterator per call
    if (next.done === true) return null;
    const state = next.value;
    if (state.isIdle(now)) map.delete(state.name);
  }
  return it;
}

/**
 * The bucket with the fewest whole tokens left: what the x-ratelimit-* headers show (on a
 * tie, the smaller limit). Three arguments rather than an array: this runs twice a request.
 */
function tightest(
  a: TokenBucket | null | undefined,
  b: TokenBucket | null | undefined,
  c: TokenBucket | null | undefined,
  now: number,
): LimitState | null {
  let best = tighter(a ?? null, b ?? null, now);
  best = tighter(best, c ?? null, now);
  if (best === null) return null;
  return { limit: best.capacity, remaining: best.remaining(now), resetMs: best.msUntilFull(now) };
}

function tighter(x: TokenBucket | null, y: TokenBucket | null, now: number): TokenBucket | null {
  if (x === null) return y;
  if (y === null) return x;
  const rx = x.remaining(now);
  const ry = y.remaining(now);
  return ry < rx || (ry === rx && y.capacity < x.capacity) ? y : x;
}

/**
 * What one admission took from one scope. The bucket and counter are the ones of the
 * moment of admission: if a reload drops a limit and brings it back before the request
 * ends, the new counter did not count this request and must not be released by it.
 */
class Hold {
  readonly tpm: TokenBucket | null;
  readonly concurrency: ConcurrencyLimit | null;

  constructor(readonly state: ScopeState) {
    this.tpm = state.tpm;
    this.concurrency = state.concurrency;
  }

  settle(delta: number, now: number): void {
    this.state.pending--;
    this.concurrency?.release();
    if (this.tpm === null || delta === 0) return;
    if (delta > 0) this.tpm.charge(delta, now);
    else this.tpm.refund(-delta, now);
  }
}

class LimitAdmission implements Admission {
  readonly ok = true;
  requests: LimitState | null = null;
  tokens: LimitState | null = null;
  global: Hold | null = null;
  key: Hold | null = null;
  model: Hold | null = null;
  private settled = false;

  constructor(private readonly estimate: number) {}

  /** Releases the slots and corrects every TPM reservation by (actual - estimate); once. */
  settle(actualTokens: number, now: number): void {
    if (this.settled) return;
    this.settled = true;
    const delta = (actualTokens > 0 ? actualTokens : 0) - this.estimate;
    this.global?.settle(delta, now);
    this.key?.settle(delta, now);
    this.model?.settle(delta, now);
  }
}
