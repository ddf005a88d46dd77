// The load-balancing strategies on the real daemon, over real fake backends: how each
// spreads requests among a route's targets, read from x-llmproxy-backend
// (server.backend_header) and checked against the access log. With nothing failing,
// weighted and round_robin are deterministic, so their counts are asserted exactly.
// With LLMPROXY_BIN set, this runs against the compiled executable.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startMockServer, type MockServer } from "../../src/mock/server.ts";
import { startProxy, type ProxyProcess } from "../helpers/proxy.ts";
import { chat, chatOk, chatSequence, isBack, isEjection, metric, tally, type Served, ROUTING_CONFIG_HEAD } from "../helpers/routing.ts";
import { startSwitchableBackend, type SwitchableBackend } from "../helpers/switchable-backend.ts";

let w1: MockServer;
let w2: MockServer;
let w3: MockServer;
let busy: MockServer;
let idle: MockServer;
let fast: MockServer;
let slow: MockServer;
let primary: SwitchableBackend;
let secondary: MockServer;
let proxy: ProxyProcess;

/** The slow backend's time to first byte: far above anything the fast one shows, even on a loaded machine. */
const SLOW_MS = 100;

beforeAll(async () => {
  const plainMock = () => startMockServer({ tokens: 2, delayMs: 0 });
  [w1, w2, w3, busy, idle, fast] = await Promise.all([plainMock(), plainMock(), plainMock(), plainMock(), plainMock(), plainMock()]);
  slow = await startMockServer({ tokens: 1, delayMs: 0, firstTokenDelayMs: SLOW_MS });
  primary = await startSwitchableBackend({ tokens: 2, delayMs: 0 });
  // Each answer of the backup takes ~20 ms to generate, so a loop of requests that waits
  // for the primary's cool-down to pass sends tens of requests, not thousands.
  secondary = await startMockServer({ tokens: 3, delayMs: 10 });
  proxy = await startProxy({
    config: `
${ROUTING_CONFIG_HEAD}backends:
  - { name: w1, provider: openai, url: ${w1.url}, weight: 5 }
  - { name: w2, provider: openai, url: ${w2.url}, weight: 3 }
  - { name: w3, provider: openai, url: ${w3.url}, weight: 2 }
  - { name: busy, provider: openai, url: ${busy.url} }
  - { name: idle, provider: openai, url: ${idle.url} }
  - { name: fast, provider: openai, url: ${fast.url} }
  - { name: slow, provider: openai, url: ${slow.url} }
  - name: primary
    provider: openai
    url: ${primary.url}
    health: { interval: 0s }
    circuit: { failures: 2, cooldown: 200ms }
  - { name: secondary, provider: openai, url: ${secondary.url} }
models:
  - { name: split, strategy: weighted, targets: [{ backend: w1 }, { backend: w2 }, { backend: w3 }] }
  - { name: turns, strategy: round_robin, targets: [{ backend: w1 }, { backend: w2 }, { backend: w3 }] }
  - { name: turns-weighted-targets, strategy: weighted, targets: [{ backend: w1, weight: 1 }, { backend: w3, weight: 3 }] }
  - { name: least, strategy: least_inflight, targets: [{ backend: busy }, { backend: idle }] }
  - { name: busy-only, targets: [{ backend: busy }] }
  - { name: quick, strategy: latency, targets: [{ backend: slow }, { backend: fast }] }
  - { name: prio, strategy: priority, targets: [{ backend: primary }, { backend: secondary }] }
retries: { attempts: 1, backoff: 5ms }
`,
  });
});

afterAll(async () => {
  expect(await proxy.stop()).toBe(0);
  await Promise.all([w1, w2, w3, busy, idle, fast, slow, primary, secondary].map((s) => s.stop()));
});

describe("weighted", () => {
  test(
    "1000 requests over weights 5:3:2 are split exactly 500/300/200, interleaved rather than in runs",
    async () => {
      const served = await chatSequence(proxy.url, "split", 1000);
      expect(tally(served)).toEqual({ w1: 500, w2: 300, w3: 200 });
      // smooth weighted round robin: every window of one cycle (10 picks) holds each
      // backend exactly its weight, and no backend gets more than 2 in a row
      for (let i = 0; i + 10 <= served.length; i++) expect(tally(served.slice(i, i + 10))).toEqual({ w1: 5, w2: 3, w3: 2 });
      let run = 1;
      for (let i = 1; i < served.length; i++) {
        run = served[i] === served[i - 1] ? run + 1 : 1;
        expect(run).toBeLessThanOrEqual(2);
      }
      // the access log counts the same
      const lines = (await proxy.waitForRequests(1000)).filter((l) => l.route === "split");
      expect(lines).toHaveLength(1000);
      expect(tally(lines.map((l) => String(l.backend)))).toEqual({ w1: 500, w2: 300, w3: 200 });
      expect(lines.every((l) => l.status === 200 && l.retries === 0)).toBe(true);
    },
    60_000,
  );

  test("a target's own weight overrides its backend's", async () => {
    const served = await chatSequence(proxy.url, "turns-weighted-targets", 40);
    expect(tally(served)).toEqual({ w1: 10, w3: 30 });
  });
});

describe("round_robin", () => {
  test("takes the targets in turn, in config order; x-llmproxy-backend and the access log name the same backend", async () => {
    const served: Served[] = [];
    for (let i = 0; i < 30; i++) served.push(await chat(proxy.url, "turns"));
    expect(served.map((s) => s.backend)).toEqual(Array.from({ length: 30 }, (_, i) => ["w1", "w2", "w3"][i % 3]!));
    const lines = await Promise.all(served.map((s) => proxy.accessLine(s.requestId)));
    expect(lines.map((l) => l.backend)).toEqual(served.map((s) => s.backend));
  });
});

describe("least_inflight", () => {
  test(
    "while one backend holds many slow requests, every new request goes to the idle one",
    async () => {
      const HELD = 6;
      let arrivedCount = 0;
      let allIn!: () => void;
      const allArrived = new Promise<void>((r) => (allIn = r));
      const unsubscribe = busy.backend.onRequestStart(() => {
        if (++arrivedCount === HELD) allIn();
      });
      const hold = new AbortController();
      // a route with busy as its only target piles requests on it: they hang before
      // their headers until the client leaves
      const held = Array.from({ length: HELD }, () => chat(proxy.url, "busy-only", { headers: { "x-mock-hang": "headers" }, signal: hold.signal }).catch((e: unknown) => e));
      await allArrived;
      unsubscribe();
      expect(await metric(proxy.url, "llmproxy_backend_inflight_requests", { backend: "busy" })).toBe(HELD);

      const served = await chatSequence(proxy.url, "least", 20);
      expect(tally(served)).toEqual({ idle: 20 });

      // release the held requests; once they ended, both backends are idle and both get
      // requests again (ties are broken at random)
      const ended = proxy.waitForLog(() => proxy.requests().filter((l) => l.route === "busy-only" && l.status === 499).length === HELD, "the held requests' access lines");
      hold.abort();
      await Promise.all(held);
      await ended;
      expect(await metric(proxy.url, "llmproxy_backend_inflight_requests", { backend: "busy" })).toBe(0);
      const after = tally(await chatSequence(proxy.url, "least", 60));
      expect(after.busy).toBeGreaterThan(0);
      expect(after.idle).toBeGreaterThan(0);
    },
    30_000,
  );
});

describe("latency", () => {
  test(
    "each backend is measured first; then the faster gets nearly all requests and the slower a small share (exploration)",
    async () => {
      const N = 600;
      const served = await chatSequence(proxy.url, "quick", N);
      // a target never measured is tried first, in config order
      expect(served.slice(0, 2)).toEqual(["slow", "fast"]);
      const counts = tally(served);
      // 5% of picks ignore latency and take a random target (half of them the slow
      // one): about 15 of 600. The chance that none of the 598 hits it is ~1e-7.
      expect(counts.slow ?? 0).toBeGreaterThanOrEqual(2);
      expect(counts.fast ?? 0).toBeGreaterThanOrEqual(N * 0.8);
    },
    60_000,
  );
});

describe("priority", () => {
  test(
    "everything goes to the first target; while it fails the second answers; once its cool-down passed and its trial succeeded, the first takes over again",
    async () => {
      expect(tally(await chatSequence(proxy.url, "prio", 10))).toEqual({ primary: 10 });

      // the primary fails: each request is retried on the secondary, and after 2
      // failures in a row the primary is ejected
      primary.set({ kind: "status", status: 500 });
      const ejected = proxy.nextLog(isEjection("primary"), "the primary's ejection");
      const first = await chat(proxy.url, "prio");
      expect({ status: first.status, backend: first.backend }).toEqual({ status: 200, backend: "secondary" });
      expect(await proxy.accessLine(first.requestId)).toMatchObject({ backend: "secondary", retries: 1, status: 200 });
      expect(await chatOk(proxy.url, "prio")).toBe("secondary");
      expect(await ejected).toMatchObject({ last_error: "http_500", cooldown_ms: 200, failures_in_a_row: 2 });
      expect(await chatOk(proxy.url, "prio")).toBe("secondary");

      // it works again: the first request after the cool-down is its trial. The loop is
      // bounded by count; it sends requests only until the primary serves one (each
      // takes ~20 ms on the secondary, so a 200-400 ms cool-down is a few tens).
      primary.set({ kind: "ok" });
      const back = proxy.nextLog(isBack("primary"), "the primary's return");
      let servedBy = "";
      for (let i = 0; i < 1000 && servedBy !== "primary"; i++) servedBy = await chatOk(proxy.url, "prio");
      expect(servedBy).toBe("primary");
      await back;
      expect(await metric(proxy.url, "llmproxy_backend_up", { backend: "primary" })).toBe(1);
      expect(tally(await chatSequence(proxy.url, "prio", 10))).toEqual({ primary: 10 });
    },
    30_000,
  );
});
