// Backend health transitions, with the clock passed in.

import { describe, expect, test } from "bun:test";
import type { BackendConfig } from "../../src/config/types.ts";
import { BackendState } from "../../src/routing/backend-state.ts";
import {
  onAttemptStart,
  onFailure,
  onInconclusive,
  onProbe,
  onRateLimited,
  onSuccess,
  parseRetryAfter,
  recordTtfb,
  unavailability,
} from "../../src/routing/health.ts";

const cfg = {
  maxInflight: 0,
  circuit: { failures: 3, cooldownMs: 1000, maxCooldownMs: 3000 },
  health: { path: "/v1/models", intervalMs: 1000, timeoutMs: 100, unhealthyAfter: 2, healthyAfter: 2 },
} as unknown as BackendConfig;

describe("circuit breaker", () => {
  test("one or two errors do not eject; the third in a row does, for the cool-down", () => {
    const s = new BackendState("b");
    expect(onFailure(s, cfg, 0)).toBe(0);
    expect(onFailure(s, cfg, 1)).toBe(0);
    expect(unavailability(s, cfg, 2)).toBeNull();
    expect(onFailure(s, cfg, 2)).toBe(1000);
    expect(unavailability(s, cfg, 500)).toBe("ejected");
  });

  test("a success in between resets the count", () => {
    const s = new BackendState("b");
    onFailure(s, cfg, 0);
    onFailure(s, cfg, 0);
    onSuccess(s);
    expect(onFailure(s, cfg, 0)).toBe(0);
  });

  test("after the cool-down one trial goes through; its success closes the circuit", () => {
    const s = new BackendState("b");
    for (let i = 0; i < 3; i++) onFailure(s, cfg, 0);
    expect(unavailability(s, cfg, 1000)).toBeNull(); // cool-down over: trial allowed
    onAttemptStart(s, 1000);
    expect(unavailability(s, cfg, 1001)).toBe("trial_in_flight"); // only one trial
    onSuccess(s);
    expect(unavailability(s, cfg, 1002)).toBeNull();
    expect(s.ejections).toBe(0);
  });

  test("a failed trial ejects again for twice as long, capped at max_cooldown", () => {
    const s = new BackendState("b");
    for (let i = 0; i < 3; i++) onFailure(s, cfg, 0);
    onAttemptStart(s, 1000);
    expect(onFailure(s, cfg, 1000)).toBe(2000);
    onAttemptStart(s, 3000);
    expect(onFailure(s, cfg, 3000)).toBe(3000); // 4000 capped at 3000
  });

  test("a trial the client abandoned lets the next request try", () => {
    const s = new BackendState("b");
    for (let i = 0; i < 3; i++) onFailure(s, cfg, 0);
    onAttemptStart(s, 1000);
    onInconclusive(s);
    expect(unavailability(s, cfg, 1001)).toBeNull();
  });
});

describe("429 and Retry-After", () => {
  test("a 429 pauses the backend for its Retry-After and is not a failure", () => {
    const s = new BackendState("b");
    expect(onRateLimited(s, "2", 0)).toBe(2000);
    expect(unavailability(s, cfg, 1999)).toBe("rate_limited");
    expect(unavailability(s, cfg, 2000)).toBeNull();
    expect(s.consecutiveFailures).toBe(0);
  });

  test("Retry-After as seconds, as an HTTP date, missing, or garbage", () => {
    const now = Date.parse("2026-11-25T12:00:00Z");
    expect(parseRetryAfter("1.5", now)).toBe(1500);
    expect(parseRetryAfter("Wed, 25 Nov 2026 12:00:30 GMT", now)).toBe(30_000);
    expect(parseRetryAfter(null, now)).toBeNull();
    expect(parseRetryAfter("soon", now)).toBeNull();
    const s = new BackendState("b");
    expect(onRateLimited(s, null, 0)).toBe(1000); // default pause
    expect(onRateLimited(s, "86400", 0)).toBe(300_000); // capped at 5 min
  });
});

describe("probes", () => {
  test("unhealthy after 2 failed probes in a row, healthy again after 2 passed", () => {
    const s = new BackendState("b");
    expect(onProbe(s, cfg, false)).toBeNull();
    expect(onProbe(s, cfg, false)).toBe(false);
    expect(unavailability(s, cfg, 0)).toBe("probe_failing");
    expect(onProbe(s, cfg, true)).toBeNull();
    expect(onProbe(s, cfg, false)).toBeNull(); // the streak of passes is broken
    expect(onProbe(s, cfg, true)).toBeNull();
    expect(onProbe(s, cfg, true)).toBe(true);
    expect(unavailability(s, cfg, 0)).toBeNull();
  });
});

test("max_inflight makes a backend at_capacity; EWMA follows time to first byte", () => {
  const s = new BackendState("b");
  const capped = { ...cfg, maxInflight: 2 } as BackendConfig;
  s.inflight = 2;
  expect(unavailability(s, capped, 0)).toBe("at_capacity");
  recordTtfb(s, 100);
  expect(s.ewmaMs).toBe(100);
  recordTtfb(s, 200);
  expect(s.ewmaMs).toBeCloseTo(130);
});
