import { describe, expect, test } from "bun:test";
import { ConcurrencyLimit } from "../../src/limits/concurrency.ts";

describe("concurrency limit", () => {
  test("acquires up to the limit, then refuses until a slot is released", () => {
    const c = new ConcurrencyLimit(3);
    const leases = [c.tryAcquire(), c.tryAcquire(), c.tryAcquire()];
    expect(leases.every((l) => l !== null)).toBe(true);
    expect(c.tryAcquire()).toBeNull();
    expect(c.inFlight).toBe(3);
    leases[0]?.release();
    expect(c.inFlight).toBe(2);
    expect(c.tryAcquire()).not.toBeNull();
  });

  test("releasing a lease twice frees one slot, not two", () => {
    const c = new ConcurrencyLimit(2);
    const a = c.tryAcquire();
    c.tryAcquire();
    a?.release();
    a?.release();
    expect(c.inFlight).toBe(1);
  });

  test("the count never goes below 0", () => {
    const c = new ConcurrencyLimit(1);
    c.release();
    c.release();
    expect(c.inFlight).toBe(0);
    expect(c.hasRoom()).toBe(true);
  });

  test("a lowered limit keeps the slots in flight and refuses new ones until enough end", () => {
    const c = new ConcurrencyLimit(4);
    const leases = [c.tryAcquire(), c.tryAcquire(), c.tryAcquire()];
    c.setLimit(2);
    expect(c.inFlight).toBe(3);
    expect(c.hasRoom()).toBe(false);
    leases[0]?.release();
    expect(c.hasRoom()).toBe(false);
    leases[1]?.release();
    expect(c.hasRoom()).toBe(true);
  });

  test("a limit of 0 or below is a programming error", () => {
    expect(() => new ConcurrencyLimit(0)).toThrow(RangeError);
    expect(() => new ConcurrencyLimit(2).setLimit(-1)).toThrow(RangeError);
  });
});
