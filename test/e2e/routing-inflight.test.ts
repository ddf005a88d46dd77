// max_inflight is never exceeded, whatever the path a request takes to a backend: a
// retry after the backoff pause, or panic mode (every target unhealthy). Requests are
// held at the backend (x-mock-hang: headers) so the slots stay taken while the test
// looks; every wait is on a request's arrival or its answer.
// With LLMPROXY_BIN set, this runs against the compiled executable.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startMockServer, type MockServer } from "../../src/mock/server.ts";
import { startProxy, type ProxyProcess } from "../helpers/proxy.ts";
import { chat, errorOf, isEjection, metric, type Served, ROUTING_CONFIG_HEAD } from "../helpers/routing.ts";
import { startSwitchableBackend, type SwitchableBackend } from "../helpers/switchable-backend.ts";

let failer: SwitchableBackend;
let capped: MockServer;
let lonely: MockServer;
let proxy: ProxyProcess;

beforeAll(async () => {
  failer = await startSwitchableBackend({ behaviour: { kind: "status", status: 500 } });
  capped = await startMockServer({ tokens: 2, delayMs: 0 });
  lonely = await startMockServer({ tokens: 2, delayMs: 0 });
  proxy = await startProxy({
    config: `
${ROUTING_CONFIG_HEAD}backends:
  # always 500, never ejected: every request's first attempt fails and is retried
  - { name: failer, provider: openai, url: ${failer.url}, health: { interval: 0s }, circuit: { failures: 1000 } }
  - { name: capped, provider: openai, url: ${capped.url}, health: { interval: 0s }, max_inflight: 1 }
  - { name: lonely, provider: openai, url: ${lonely.url}, health: { interval: 0s }, max_inflight: 1, circuit: { failures: 1, cooldown: 1m } }
models:
  - { name: tight, strategy: priority, targets: [{ backend: failer }, { backend: capped }] }
  - { name: lonely, targets: [{ backend: lonely }] }
# a long pause before each retry: requests retrying at the same time overlap in it
retries: { attempts: 1, backoff: 300ms }
`,
  });
});

afterAll(async () => {
  expect(await proxy.stop()).toBe(0);
  await Promise.all([failer, capped, lonely].map((s) => s.stop()));
});

describe("max_inflight", () => {
  test(
    "two requests retried at once onto a backend with max_inflight 1: only one reaches it, the other gets the first target's error",
    async () => {
      // count arrivals at the capped backend and answers to the client; wake the test on each
      let atCapped = 0;
      let settled = 0;
      let wake: () => void = () => {};
      const unsubscribe = capped.backend.onRequestStart(() => {
        atCapped++;
        wake();
      });
      const hold = new AbortController();
      const answers: Served[] = [];
      const sent = [0, 1].map(() =>
        chat(proxy.url, "tight", { headers: { "x-mock-hang": "headers" }, signal: hold.signal }).then(
          (s) => {
            answers.push(s);
            settled++;
            wake();
          },
          () => {},
        ),
      );
      let inflight: number;
      try {
        // each request either reached the capped backend (and hangs there) or was answered
        while (atCapped + settled < 2) await new Promise<void>((r) => (wake = r));
        inflight = await metric(proxy.url, "llmproxy_backend_inflight_requests", { backend: "capped" });
      } finally {
        unsubscribe();
        const done = proxy.waitForLog(() => proxy.requests().filter((l) => l.route === "tight").length === 2, "both access lines");
        hold.abort();
        await Promise.all(sent);
        await done;
      }
      expect({ atCapped, inflight }).toEqual({ atCapped: 1, inflight: 1 });
      expect(answers.map((a) => a.status)).toEqual([500]);
    },
    15_000,
  );

  test("panic mode never exceeds it: an ejected single-target backend with its one slot taken is not tried; 503 no_backend_available", async () => {
    // one failure ejects it for a minute
    const ejected = proxy.nextLog(isEjection("lonely"), "lonely's ejection");
    expect((await chat(proxy.url, "lonely", { headers: { "x-mock-status": "500" } })).status).toBe(500);
    await ejected;

    // panic mode: the only target is ejected, so it is tried anyway, and this request
    // holds its one slot
    const hold = new AbortController();
    const arrived = lonely.backend.nextStart();
    const held = chat(proxy.url, "lonely", { headers: { "x-mock-hang": "headers" }, signal: hold.signal }).catch(() => null);
    let res: Served;
    try {
      await arrived;
      res = await chat(proxy.url, "lonely");
    } finally {
      const done = proxy.waitForLog(() => proxy.requests().filter((l) => l.route === "lonely" && l.status === 499).length >= 1, "the held request's access line");
      hold.abort();
      await held;
      await done;
    }
    expect({ status: res.status, servedBy: res.backend, atLonely: lonely.backend.stats.requests }).toEqual({ status: 503, servedBy: null, atLonely: 2 });
    const err = errorOf(res.text);
    expect(err.code).toBe("no_backend_available");
    expect(err.message).toContain("lonely: at capacity");
    // what the message says (at capacity) and Retry-After agree: panic mode tries the
    // backend again as soon as its slot is free, so a client should not wait out the
    // whole cool-down (README: "every candidate's backend is at its max_inflight; with Retry-After: 1")
    expect(res.headers.get("retry-after")).toBe("1");
  });
});
