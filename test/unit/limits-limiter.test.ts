import { describe, expect, test } from "bun:test";
import { type AdmitRequest, CONCURRENCY_RETRY_MS, RateLimiter } from "../../src/limits/limiter.ts";
import type { Admission, LimitSpec, Refusal } from "../../src/limits/types.ts";

const T0 = 1_700_000_000_000;

function spec(partial: Partial<LimitSpec>): LimitSpec {
  return { rpm: null, tpm: null, concurrency: null, ...partial };
}

function request(partial: Partial<AdmitRequest>): AdmitRequest {
  return { keyId: "k1", key: null, model: "m1", modelLimits: null, global: null, estimatedTokens: 0, ...partial };
}

function admitted(result: Admission | Refusal): Admission {
  if (!result.ok) throw new Error(`refused at ${result.scope} (${result.kind}), retry after ${result.retryAfterMs} ms`);
  return result;
}

function refused(result: Admission | Refusal): Refusal {
  if (result.ok) throw new Error("admitted, expected a refusal");
  return result;
}

describe("rate limiter: requests per minute", () => {
  test("exactly rpm requests pass in a burst, the next is refused with the wait for one more", () => {
    const limiter = new RateLimiter();
    const req = request({ key: spec({ rpm: 60 }) });
    for (let i = 0; i < 60; i++) {
      const a = admitted(limiter.admit(req, T0));
      expect(a.requests).toEqual({ limit: 60, remaining: 59 - i, resetMs: (i + 1) * 1000 });
    }
    const r = refused(limiter.admit(req, T0));
    expect(r).toMatchObject({ scope: "key", kind: "requests", retryAfterMs: 1000 });
    expect(r.requests).toEqual({ limit: 60, remaining: 0, resetMs: 60_000 });
    expect(r.tokens).toBeNull();
  });

  test("after exactly the Retry-After one more request passes, and only one", () => {
    const limiter = new RateLimiter();
    const req = request({ key: spec({ rpm: 60 }) });
    for (let i = 0; i < 60; i++) admitted(limiter.admit(req, T0));
    const { retryAfterMs } = refused(limiter.admit(req, T0));
    refused(limiter.admit(req, T0 + retryAfterMs - 1));
    admitted(limiter.admit(req, T0 + retryAfterMs));
    expect(refused(limiter.admit(req, T0 + retryAfterMs)).retryAfterMs).toBe(1000);
  });

  test("a minute after a burst the whole burst is available again, never more", () => {
    const limiter = new RateLimiter();
    const req = request({ key: spec({ rpm: 5 }) });
    for (let i = 0; i < 5; i++) admitted(limiter.admit(req, T0));
    refused(limiter.admit(req, T0));
    const later = T0 + 60_000 * 10;
    for (let i = 0; i < 5; i++) admitted(limiter.admit(req, later));
    refused(limiter.admit(req, later));
  });

  test("every key has its own bucket; the global one is shared", () => {
    const limiter = new RateLimiter();
    const key = spec({ rpm: 2 });
    const global = spec({ rpm: 3 });
    admitted(limiter.admit(request({ keyId: "a", key, global }), T0));
    admitted(limiter.admit(request({ keyId: "a", key, global }), T0));
    expect(refused(limiter.admit(request({ keyId: "a", key, global }), T0)).scope).toBe("key");
    admitted(limiter.admit(request({ keyId: "b", key, global }), T0));
    expect(refused(limiter.admit(request({ keyId: "b", key, global }), T0)).scope).toBe("global");
  });
});

describe("rate limiter: tokens per minute", () => {
  test("an estimate is reserved at admission and settled down (refund) to the real usage", () => {
    const limiter = new RateLimiter();
    const req = request({ key: spec({ tpm: 1000 }), estimatedTokens: 400 });
    const a = admitted(limiter.admit(req, T0));
    expect(a.tokens).toEqual({ limit: 1000, remaining: 600, resetMs: 24_000 });
    a.settle(100, T0);
    const b = admitted(limiter.admit(req, T0));
    expect(b.tokens?.remaining).toBe(500); // 1000 - 100 used - 400 reserved
  });

  test("settling above the estimate leaves a debt that the next request waits for", () => {
    const limiter = new RateLimiter();
    const req = request({ key: spec({ tpm: 1000 }), estimatedTokens: 500 });
    admitted(limiter.admit(req, T0)).settle(1100, T0);
    const r = refused(limiter.admit(request({ key: spec({ tpm: 1000 }), estimatedTokens: 10 }), T0));
    // 100 of debt + 10 wanted, at 60 ms per token
    expect(r).toMatchObject({ scope: "key", kind: "tokens", retryAfterMs: 6600 });
    expect(r.tokens).toEqual({ limit: 1000, remaining: 0, resetMs: 66_000 });
    refused(limiter.admit(request({ key: spec({ tpm: 1000 }), estimatedTokens: 10 }), T0 + 6599));
    admitted(limiter.admit(request({ key: spec({ tpm: 1000 }), estimatedTokens: 10 }), T0 + 6600));
  });

  test("an estimate above the capacity passes on a full bucket only, then waits for a full one", () => {
    const limiter = new RateLimiter();
    const req = request({ global: spec({ tpm: 1000 }), estimatedTokens: 1500 });
    admitted(limiter.admit(req, T0)).settle(1500, T0);
    const r = refused(limiter.admit(req, T0));
    expect(r).toMatchObject({ scope: "global", kind: "tokens", retryAfterMs: 90_000 });
    admitted(limiter.admit(req, T0 + 90_000));
  });

  test("the correction applies in every scope that reserved, and a second settle does nothing", () => {
    const limiter = new RateLimiter();
    const limits = { key: spec({ tpm: 1000 }), modelLimits: spec({ tpm: 2000 }), global: spec({ tpm: 5000 }) };
    const a = admitted(limiter.admit(request({ ...limits, estimatedTokens: 300 }), T0));
    a.settle(50, T0);
    a.settle(50, T0);
    a.settle(5000, T0);
    // the headers show the tightest scope; leave out the tighter ones to see each (a
    // scope left out must be another key or model: passing null would drop the state)
    const probe = (r: Partial<AdmitRequest>): number | undefined =>
      admitted(limiter.admit(request({ ...limits, ...r, estimatedTokens: 0 }), T0)).tokens?.remaining;
    expect(probe({})).toBe(950);
    expect(probe({ keyId: null })).toBe(1950);
    expect(probe({ keyId: null, model: "unlimited", modelLimits: null })).toBe(4950);
  });
});

describe("rate limiter: concurrency", () => {
  test("many parallel admits: refused beyond the limit, released by settle, a double settle frees one slot", () => {
    const limiter = new RateLimiter();
    const req = request({ key: spec({ concurrency: 5 }) });
    const results = Array.from({ length: 50 }, () => limiter.admit(req, T0));
    const ok = results.filter((r): r is Admission => r.ok);
    const no = results.filter((r): r is Refusal => !r.ok);
    expect(ok.length).toBe(5);
    expect(no.length).toBe(45);
    expect(no[0]).toMatchObject({ scope: "key", kind: "concurrency", retryAfterMs: CONCURRENCY_RETRY_MS });

    ok[0]?.settle(0, T0);
    ok[0]?.settle(0, T0);
    admitted(limiter.admit(req, T0));
    refused(limiter.admit(req, T0));
  });

  test("requests without a concurrency limit are not counted, whatever the other scopes do", () => {
    const limiter = new RateLimiter();
    const req = request({ modelLimits: spec({ concurrency: 1 }) });
    admitted(limiter.admit(req, T0));
    admitted(limiter.admit(request({ model: "m2", modelLimits: spec({ concurrency: 1 }) }), T0));
    expect(refused(limiter.admit(req, T0)).scope).toBe("model");
  });
});

describe("rate limiter: all or nothing across scopes", () => {
  test("a refusal at the model scope leaves the key and the global budgets untouched", () => {
    const limiter = new RateLimiter();
    const key = spec({ rpm: 10, tpm: 1000, concurrency: 2 });
    const global = spec({ rpm: 10, tpm: 1000, concurrency: 2 });
    const modelLimits = spec({ rpm: 1 });
    admitted(limiter.admit(request({ key, global, modelLimits, estimatedTokens: 100 }), T0));
    for (let i = 0; i < 5; i++) {
      expect(refused(limiter.admit(request({ key, global, modelLimits, estimatedTokens: 100 }), T0)).scope).toBe("model");
    }
    // a model without limits shows what key and global have left: only the first request counted
    const a = admitted(limiter.admit(request({ key, global, model: "free", estimatedTokens: 100 }), T0));
    expect(a.requests?.remaining).toBe(8);
    expect(a.tokens?.remaining).toBe(800);
    // ... and it took the second concurrency slot: the refused ones took none
    expect(refused(limiter.admit(request({ key, global, model: "free" }), T0 + 1)).kind).toBe("concurrency");
  });

  test("Retry-After is the longest wait among the limits that refuse", () => {
    const limiter = new RateLimiter();
    const key = spec({ rpm: 60 });
    const global = spec({ tpm: 100 });
    admitted(limiter.admit(request({ key, global, estimatedTokens: 100 }), T0));
    // the key waits 1 s for a request, the global scope 60 s for 100 tokens
    expect(refused(limiter.admit(request({ key, global, estimatedTokens: 100 }), T0))).toMatchObject({
      scope: "global",
      kind: "tokens",
      retryAfterMs: 60_000,
    });
  });

  test("the headers show the tightest scope: the one with the fewest left", () => {
    const limiter = new RateLimiter();
    const a = admitted(
      limiter.admit(request({ key: spec({ rpm: 100 }), modelLimits: spec({ rpm: 3 }), global: spec({ rpm: 1000, tpm: 9000 }), estimatedTokens: 10 }), T0),
    );
    expect(a.requests).toEqual({ limit: 3, remaining: 2, resetMs: 20_000 });
    expect(a.tokens).toEqual({ limit: 9000, remaining: 8990, resetMs: 67 });
  });
});

describe("rate limiter: limits change between calls (reload)", () => {
  test("state survives a reload and a changed limit keeps the fill ratio", () => {
    const limiter = new RateLimiter();
    for (let i = 0; i < 5; i++) admitted(limiter.admit(request({ key: spec({ rpm: 10 }) }), T0));
    const a = admitted(limiter.admit(request({ key: spec({ rpm: 20 }) }), T0));
    expect(a.requests).toEqual({ limit: 20, remaining: 9, resetMs: 33_000 });
  });

  test("a limit set to null drops its state; set again, it starts full", () => {
    const limiter = new RateLimiter();
    for (let i = 0; i < 3; i++) admitted(limiter.admit(request({ key: spec({ rpm: 3 }) }), T0));
    refused(limiter.admit(request({ key: spec({ rpm: 3 }) }), T0));
    const free = admitted(limiter.admit(request({ key: null }), T0));
    expect(free.requests).toBeNull();
    expect(limiter.stats().keys).toBe(0);
    expect(admitted(limiter.admit(request({ key: spec({ rpm: 3 }) }), T0)).requests?.remaining).toBe(2);
  });

  test("one kind set to null keeps the others", () => {
    const limiter = new RateLimiter();
    admitted(limiter.admit(request({ global: spec({ rpm: 10, tpm: 100 }), estimatedTokens: 10 }), T0));
    const a = admitted(limiter.admit(request({ global: spec({ rpm: 10 }), estimatedTokens: 10 }), T0));
    expect(a.requests?.remaining).toBe(8);
    expect(a.tokens).toBeNull();
  });

  test("a request admitted before a reload settles against the buckets it reserved in", () => {
    const limiter = new RateLimiter();
    const a = admitted(limiter.admit(request({ key: spec({ tpm: 1000, concurrency: 1 }), estimatedTokens: 500 }), T0));
    // the limit is dropped and brought back while the request runs: a new, full bucket and counter
    admitted(limiter.admit(request({ key: null }), T0));
    const b = admitted(limiter.admit(request({ key: spec({ tpm: 1000, concurrency: 1 }), estimatedTokens: 0 }), T0));
    a.settle(0, T0); // must neither refund into nor free a slot of the new state
    refused(limiter.admit(request({ key: spec({ tpm: 1000, concurrency: 1 }) }), T0));
    b.settle(0, T0);
    expect(admitted(limiter.admit(request({ key: spec({ tpm: 1000, concurrency: 1 }) }), T0)).tokens?.remaining).toBe(1000);
  });
});

describe("rate limiter: no limits", () => {
  test("null limits everywhere: everything passes, no headers, no state", () => {
    const limiter = new RateLimiter();
    for (let i = 0; i < 10_000; i++) {
      const a = admitted(limiter.admit(request({ keyId: `k${i}`, estimatedTokens: 1e9 }), T0));
      expect(a.requests).toBeNull();
      expect(a.tokens).toBeNull();
    }
    admitted(limiter.admit(request({ keyId: null, key: spec({}), modelLimits: spec({}), global: spec({}) }), T0));
    expect(limiter.stats()).toEqual({ keys: 0, models: 0 });
  });
});

describe("rate limiter: bounded memory", () => {
  test("keys that stop sending are forgotten once their buckets are full again", () => {
    const limiter = new RateLimiter();
    const key = spec({ rpm: 60, tpm: 10_000, concurrency: 4 });
    let now = T0;
    let peak = 0;
    // 10 waves of 10 000 new keys, a minute apart, each key sending once and never again
    for (let wave = 0; wave < 10; wave++) {
      for (let i = 0; i < 10_000; i++) {
        const a = limiter.admit(request({ keyId: `w${wave}-k${i}`, key, estimatedTokens: 50 }), now);
        if (a.ok) a.settle(40, now);
        peak = Math.max(peak, limiter.stats().keys);
      }
      now += 61_000;
    }
    // without the sweep this would be 100 000
    expect(peak).toBeLessThanOrEqual(11_000);
    // one key keeps sending; the idle ones go
    for (let i = 0; i < 10_000; i++) limiter.admit(request({ keyId: "steady", key, estimatedTokens: 1 }), now);
    expect(limiter.stats().keys).toBe(1);
  });

  test("a key with a request in flight, or in debt, is never dropped", () => {
    const limiter = new RateLimiter();
    const key = spec({ tpm: 1000 });
    const a = admitted(limiter.admit(request({ keyId: "slow", key, estimatedTokens: 10 }), T0));
    admitted(limiter.admit(request({ keyId: "debtor", key, estimatedTokens: 10 }), T0)).settle(3000, T0);
    const later = T0 + 120_000; // the slow request's bucket is full again, but it runs on
    expect(limiter.sweepIdle(later)).toBe(0);
    a.settle(1010, later); // 1000 more than reserved: charged to the key's full bucket, not lost
    expect(refused(limiter.admit(request({ keyId: "slow", key, estimatedTokens: 10 }), later)).retryAfterMs).toBe(600);
    expect(refused(limiter.admit(request({ keyId: "debtor", key, estimatedTokens: 1 }), later)).kind).toBe("tokens");
  });
});
