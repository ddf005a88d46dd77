import { describe, expect, test } from "bun:test";
import { TokenBucket, WINDOW_MS } from "../../src/limits/token-bucket.ts";

const T0 = 1_700_000_000_000; // a Date.now()-sized clock, to catch precision trouble

function drain(bucket: TokenBucket, now: number): number {
  let n = 0;
  while (bucket.take(1, now)) n++;
  return n;
}

describe("token bucket: requests per minute", () => {
  test("exactly rpm requests pass in a burst, the next waits 1/rpm of a minute", () => {
    const b = new TokenBucket(60, T0);
    expect(drain(b, T0)).toBe(60);
    expect(b.remaining(T0)).toBe(0);
    expect(b.msUntil(1, T0)).toBe(1000);
  });

  test("refill after exactly 1/rpm of a minute admits exactly one more, not a millisecond earlier", () => {
    const b = new TokenBucket(60, T0);
    drain(b, T0);
    expect(b.take(1, T0 + 999)).toBe(false);
    expect(b.msUntil(1, T0 + 999)).toBe(1);
    expect(b.take(1, T0 + 1000)).toBe(true);
    expect(b.take(1, T0 + 1000)).toBe(false);
    expect(b.msUntil(1, T0 + 1000)).toBe(1000);
  });

  test("an rpm that does not divide a minute: the wait is rounded up and is then enough", () => {
    const b = new TokenBucket(7, T0);
    expect(drain(b, T0)).toBe(7);
    const wait = b.msUntil(1, T0);
    expect(wait).toBe(Math.ceil(WINDOW_MS / 7)); // 8572
    expect(b.take(1, T0 + wait - 1)).toBe(false);
    expect(b.take(1, T0 + wait)).toBe(true);
  });

  test("a minute after a burst the bucket is full again, and never holds more than its capacity", () => {
    const b = new TokenBucket(60, T0);
    drain(b, T0);
    expect(b.msUntilFull(T0)).toBe(WINDOW_MS);
    expect(b.remaining(T0 + WINDOW_MS - 1)).toBe(59);
    expect(b.msUntilFull(T0 + WINDOW_MS - 1)).toBe(1);
    expect(b.remaining(T0 + WINDOW_MS)).toBe(60);
    expect(b.msUntilFull(T0 + WINDOW_MS)).toBe(0);
    // an hour idle still allows only one burst of 60
    expect(drain(b, T0 + 3_600_000)).toBe(60);
  });

  test("a burst straddling a minute boundary gets no more than capacity plus the refill", () => {
    const b = new TokenBucket(60, T0);
    expect(drain(b, T0 + 59_999)).toBe(60);
    expect(drain(b, T0 + 60_000)).toBe(0);
    expect(drain(b, T0 + 61_000)).toBe(1);
  });

  test("take is all or nothing, and more than the capacity never passes", () => {
    const b = new TokenBucket(10, T0);
    expect(b.take(4, T0)).toBe(true);
    expect(b.take(7, T0)).toBe(false);
    expect(b.remaining(T0)).toBe(6);
    expect(new TokenBucket(10, T0).take(11, T0)).toBe(false);
  });

  test("a clock that steps back refills nothing and credits no interval twice", () => {
    const b = new TokenBucket(60, T0);
    drain(b, T0 + 5000);
    expect(b.remaining(T0)).toBe(0);
    expect(b.remaining(T0 + 5999)).toBe(0);
    expect(b.remaining(T0 + 6000)).toBe(1);
  });

  test("a capacity of 0 or below is a programming error (the config maps 0 to null)", () => {
    expect(() => new TokenBucket(0, T0)).toThrow(RangeError);
    expect(() => new TokenBucket(Number.NaN, T0)).toThrow(RangeError);
    expect(() => new TokenBucket(10, T0).resize(-1, T0)).toThrow(RangeError);
  });
});

describe("token bucket: tokens per minute (reserve, settle)", () => {
  test("reserve takes the estimate; refund gives back the unused part, never above full", () => {
    const b = new TokenBucket(1000, T0);
    expect(b.reserve(400, T0)).toBe(true);
    expect(b.remaining(T0)).toBe(600);
    b.refund(300, T0);
    expect(b.remaining(T0)).toBe(900);
    b.refund(5000, T0);
    expect(b.remaining(T0)).toBe(1000);
    expect(b.msUntilFull(T0)).toBe(0);
  });

  test("charge beyond the level leaves a debt that the next request waits for", () => {
    const b = new TokenBucket(1000, T0);
    expect(b.reserve(900, T0)).toBe(true);
    b.charge(200, T0); // used 1100 against an estimate of 900
    expect(b.level(T0)).toBe(-100);
    expect(b.remaining(T0)).toBe(0);
    // 1000 per minute = 60 ms per token: 100 of debt + 10 wanted = 6600 ms
    expect(b.msUntil(10, T0)).toBe(6600);
    expect(b.reserve(10, T0 + 6599)).toBe(false);
    expect(b.reserve(10, T0 + 6600)).toBe(true);
  });

  test("a bucket in debt refuses even an estimate of 0 until the debt is paid", () => {
    const b = new TokenBucket(60, T0);
    b.charge(61, T0);
    expect(b.reserve(0, T0)).toBe(false);
    expect(b.msUntil(0, T0)).toBe(1000);
    expect(b.reserve(0, T0 + 1000)).toBe(true);
  });

  test("an estimate above the capacity passes only on a full bucket, and leaves a debt", () => {
    const b = new TokenBucket(1000, T0);
    expect(b.reserve(1500, T0)).toBe(true);
    expect(b.level(T0)).toBe(-500);
    // it waits for a full bucket, not forever
    expect(b.msUntil(1500, T0)).toBe(b.msUntilFull(T0));
    expect(b.msUntilFull(T0)).toBe(90_000);
    expect(b.reserve(1500, T0 + 89_999)).toBe(false);
    expect(b.reserve(1500, T0 + 90_000)).toBe(true);

    const partial = new TokenBucket(1000, T0);
    partial.take(1, T0);
    expect(partial.reserve(1500, T0)).toBe(false);
    expect(partial.msUntil(1500, T0)).toBe(60);
  });
});

describe("token bucket: a reload changes the capacity", () => {
  test("the fill ratio is kept: a raise helps at once in proportion, the time until full is unchanged", () => {
    const b = new TokenBucket(100, T0);
    b.take(90, T0);
    const untilFull = b.msUntilFull(T0);
    b.resize(1000, T0);
    expect(b.capacity).toBe(1000);
    expect(b.remaining(T0)).toBe(100);
    expect(b.msUntilFull(T0)).toBe(untilFull);
  });

  test("a lowering grants no fresh burst, a full bucket stays full, a debt keeps its duration", () => {
    const half = new TokenBucket(100, T0);
    half.take(50, T0);
    half.resize(10, T0);
    expect(half.remaining(T0)).toBe(5);

    const full = new TokenBucket(100, T0);
    full.resize(10, T0);
    expect(full.remaining(T0)).toBe(10);
    expect(full.msUntilFull(T0)).toBe(0);

    const debt = new TokenBucket(100, T0);
    debt.charge(150, T0);
    const untilFull = debt.msUntilFull(T0);
    debt.resize(10, T0);
    expect(debt.level(T0)).toBeCloseTo(-5, 9);
    expect(debt.msUntilFull(T0)).toBe(untilFull);
  });

  test("the time before the reload refills at the old rate", () => {
    const b = new TokenBucket(60, T0);
    drain(b, T0);
    b.resize(120, T0 + 30_000); // 30 of 60 refilled at the old rate, then doubled
    expect(b.remaining(T0 + 30_000)).toBe(60);
  });
});
