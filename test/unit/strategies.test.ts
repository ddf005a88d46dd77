// The load-balancing strategies, each checked for the distribution it promises.

import { describe, expect, test } from "bun:test";
import { EXPLORE, pickLatency, pickLeastInflight, pickPriority, pickRoundRobin, pickWeighted, StrategyMemory, type Candidate } from "../../src/routing/strategies.ts";

/** A deterministic random sequence (mulberry32), so distributions are reproducible. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const c = (key: string, over: Partial<Candidate> = {}): Candidate => ({ key, weight: 1, inflight: 0, ewmaMs: 10, ...over });

function counts(n: number, f: () => number, cands: readonly Candidate[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const k = cands[f()]!.key;
    out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}

describe("round_robin", () => {
  test("takes the candidates in turn", () => {
    const cands = [c("a"), c("b"), c("c")];
    const mem = new StrategyMemory();
    expect(Array.from({ length: 6 }, () => cands[pickRoundRobin(cands, mem)]!.key).join("")).toBe("abcabc");
  });
});

describe("weighted (smooth weighted round robin)", () => {
  test("5:1:1 gives nginx's spread-out order, exact over each cycle", () => {
    const cands = [c("a", { weight: 5 }), c("b", { weight: 1 }), c("c", { weight: 1 })];
    const mem = new StrategyMemory();
    const order = Array.from({ length: 14 }, () => cands[pickWeighted(cands, mem)]!.key).join("");
    expect(order).toBe("aabacaaaabacaa");
    expect(order.slice(0, 7).split("").sort().join("")).toBe("aaaaabc");
  });

  test("3:1 over 4000 picks is exactly 3000:1000, and weight 0 is never picked", () => {
    const cands = [c("a", { weight: 3 }), c("b", { weight: 1 }), c("z", { weight: 0 })];
    const mem = new StrategyMemory();
    expect(counts(4000, () => pickWeighted(cands, mem), cands)).toEqual({ a: 3000, b: 1000 });
  });

  test("a candidate that comes back joins the rotation without a burst", () => {
    const mem = new StrategyMemory();
    const two = [c("a", { weight: 1 }), c("b", { weight: 1 })];
    for (let i = 0; i < 10; i++) pickWeighted(two, mem);
    const three = [...two, c("c", { weight: 1 })];
    const next = Array.from({ length: 6 }, () => three[pickWeighted(three, mem)]!.key);
    expect(next.filter((k) => k === "c").length).toBe(2);
  });
});

describe("least_inflight (power of two choices)", () => {
  test("never picks the busier of two, and spreads when loads are equal", () => {
    const r = rng(1);
    const cands = [c("idle", { inflight: 0 }), c("busy", { inflight: 50 })];
    expect(counts(1000, () => pickLeastInflight(cands, r), cands)).toEqual({ idle: 1000 });
    const even = [c("a"), c("b"), c("c"), c("d")];
    const got = counts(8000, () => pickLeastInflight(even, r), even);
    for (const k of ["a", "b", "c", "d"]) expect(Math.abs(got[k]! - 2000)).toBeLessThan(200);
  });

  test("the most loaded of several is never chosen", () => {
    const r = rng(2);
    const cands = [c("a", { inflight: 1 }), c("b", { inflight: 2 }), c("c", { inflight: 3 })];
    const got = counts(3000, () => pickLeastInflight(cands, r), cands);
    expect(got.c).toBeUndefined();
    expect(got.a!).toBeGreaterThan(got.b!);
  });
});

describe("latency (EWMA of time to first byte, two choices, exploration)", () => {
  test("an unmeasured candidate is tried first", () => {
    const cands = [c("a", { ewmaMs: 5 }), c("new", { ewmaMs: null })];
    expect(cands[pickLatency(cands, rng(3))]!.key).toBe("new");
  });

  test("the fast backend gets almost everything, the slow one about the exploration share", () => {
    const r = rng(4);
    const cands = [c("fast", { ewmaMs: 20 }), c("slow", { ewmaMs: 400 })];
    const got = counts(20000, () => pickLatency(cands, r), cands);
    // explore picks uniformly: the slow one gets ~EXPLORE/2 of all picks
    expect(got.slow! / 20000).toBeGreaterThan(EXPLORE / 2 - 0.01);
    expect(got.slow! / 20000).toBeLessThan(EXPLORE / 2 + 0.01);
  });

  test("load counts: a fast but crowded backend loses to a slower idle one", () => {
    const r = rng(5);
    const cands = [c("fast-crowded", { ewmaMs: 10, inflight: 20 }), c("slower-idle", { ewmaMs: 50, inflight: 0 })];
    const got = counts(2000, () => pickLatency(cands, r), cands);
    expect(got["slower-idle"]!).toBeGreaterThan(1800);
  });
});

describe("priority", () => {
  test("always the first available in config order", () => {
    const cands = [c("primary"), c("backup")];
    expect(cands[pickPriority(cands)]!.key).toBe("primary");
    expect([c("backup")][pickPriority([c("backup")])]!.key).toBe("backup");
  });
});
