// Active health checks on the real daemon: a backend failing its probes is taken out
// (log, metric, /ready) and gets no traffic until its probes pass again; with no backend
// passing, /ready says so and requests are still tried (panic mode); `interval: 0s`
// turns probes off. Probes run every 100 ms here; every wait is on a log line or a
// probe's arrival, never on the clock.
// With LLMPROXY_BIN set, this runs against the compiled executable.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startMockServer, type MockServer } from "../../src/mock/server.ts";
import { saveInPlace } from "../helpers/daemon.ts";
import { startProxy, type LogLine, type ProxyProcess } from "../helpers/proxy.ts";
import { chat, chatSequence, metric, tally, ROUTING_CONFIG_HEAD } from "../helpers/routing.ts";
import { startSwitchableBackend, type SwitchableBackend } from "../helpers/switchable-backend.ts";

const PROBED = "{ path: /probe, interval: 100ms, unhealthy_after: 2, healthy_after: 1 }";

// the first daemon: two backends whose probe answers the tests switch
let flip: SwitchableBackend;
let flop: SwitchableBackend;
let pair: ProxyProcess;
// the second daemon: health paths and intervals as configured
let misaimed: MockServer;
let unprobed: MockServer;
let defaultPath: MockServer;
let paths: ProxyProcess;
/** GET /nope requests each mock of the second daemon received. */
const nopes = new Map<MockServer, number>();
const nopeWaiters: { mock: MockServer; n: number; resolve: () => void }[] = [];

function pairConfig(flipHealth = PROBED): string {
  return `
${ROUTING_CONFIG_HEAD}backends:
  - { name: flip, provider: openai, url: ${flip.url}, api_key: probe-key, health: ${flipHealth} }
  - { name: flop, provider: openai, url: ${flop.url}, health: ${PROBED} }
models:
  - { name: pair, strategy: round_robin, targets: [{ backend: flip }, { backend: flop }] }
retries: { attempts: 1, backoff: 5ms }
`;
}

beforeAll(async () => {
  flip = await startSwitchableBackend({ tokens: 2, delayMs: 0 });
  flop = await startSwitchableBackend({ tokens: 2, delayMs: 0 });
  pair = await startProxy({ config: pairConfig() });

  const plainMock = () => startMockServer({ tokens: 2, delayMs: 0 });
  [misaimed, unprobed, defaultPath] = await Promise.all([plainMock(), plainMock(), plainMock()]);
  for (const m of [misaimed, unprobed, defaultPath]) {
    nopes.set(m, 0);
    // the mock answers GET /nope with 404 and reports it like any request
    m.backend.onRequestStart((s) => {
      if (s.path !== "/nope") return;
      const n = nopes.get(m)! + 1;
      nopes.set(m, n);
      for (const w of nopeWaiters.filter((x) => x.mock === m && x.n <= n)) {
        nopeWaiters.splice(nopeWaiters.indexOf(w), 1);
        w.resolve();
      }
    });
  }
  paths = await startProxy({
    config: `
${ROUTING_CONFIG_HEAD}backends:
  - { name: misaimed, provider: openai, url: ${misaimed.url}, health: { path: /nope, interval: 100ms, unhealthy_after: 2 } }
  - { name: unprobed, provider: openai, url: ${unprobed.url}, health: { path: /nope, interval: 0s } }
  - { name: default-path, provider: openai, url: ${defaultPath.url}, health: { interval: 100ms } }
models:
  - { name: mixed, strategy: round_robin, targets: [{ backend: misaimed }, { backend: default-path }] }
  - { name: solo-unprobed, targets: [{ backend: unprobed }] }
`,
  });
});

afterAll(async () => {
  expect(await pair.stop()).toBe(0);
  expect(await paths.stop()).toBe(0);
  await Promise.all([flip, flop, misaimed, unprobed, defaultPath].map((s) => s.stop()));
});

const failing = (backend: string) => (l: LogLine) => l.msg.startsWith("backend failing its health probes") && l.backend === backend;
const passing = (backend: string) => (l: LogLine) => l.msg.startsWith("backend passing its health probes again") && l.backend === backend;

async function ready(p: ProxyProcess): Promise<{ status: number; body: { status: string; healthy_backends: string[] } }> {
  const res = await fetch(`${p.url}/ready`);
  return { status: res.status, body: (await res.json()) as { status: string; healthy_backends: string[] } };
}

/** Resolves once the mock has received n GET /nope. */
function nopeCount(mock: MockServer, n: number): Promise<void> {
  if (nopes.get(mock)! >= n) return Promise.resolve();
  return new Promise((resolve) => nopeWaiters.push({ mock, n, resolve }));
}

describe("probes of a backend", () => {
  test("GET the health path with the backend's api_key", async () => {
    const probe = await flip.nextProbe();
    expect(probe.ok).toBe(true);
    expect(probe.headers.get("authorization")).toBe("Bearer probe-key");
  });

  test("failing unhealthy_after probes in a row takes it out: logged, backend_up 0, /ready still 200, no traffic", async () => {
    const out = pair.nextLog(failing("flip"), "flip failing its probes");
    flip.setProbe(false);
    expect(await out).toMatchObject({ level: "warn", path: "/probe", failed_in_a_row: 2 });
    expect(await metric(pair.url, "llmproxy_backend_up", { backend: "flip" })).toBe(0);
    expect(await metric(pair.url, "llmproxy_backend_up", { backend: "flop" })).toBe(1);
    expect(await ready(pair)).toEqual({ status: 200, body: expect.objectContaining({ status: "ready", healthy_backends: ["flop"] }) });

    const arrivedBefore = flip.arrived;
    const served: string[] = [];
    for (let i = 0; i < 20; i++) {
      const res = await chat(pair.url, "pair");
      expect(res.status).toBe(200);
      expect(await pair.accessLine(res.requestId)).toMatchObject({ backend: "flop", retries: 0 });
      served.push(res.backend!);
    }
    expect(tally(served)).toEqual({ flop: 20 });
    expect(flip.arrived).toBe(arrivedBefore);
  });

  test("passing again brings it back: logged, backend_up 1, traffic in turn again", async () => {
    const back = pair.nextLog(passing("flip"), "flip passing its probes again");
    flip.setProbe(true);
    expect(await back).toMatchObject({ level: "info", path: "/probe" });
    expect(await metric(pair.url, "llmproxy_backend_up", { backend: "flip" })).toBe(1);
    expect((await ready(pair)).body.healthy_backends.sort()).toEqual(["flip", "flop"]);
    expect(tally(await chatSequence(pair.url, "pair", 10))).toEqual({ flip: 5, flop: 5 });
  });

  test(
    "with every backend failing its probes, /ready is 503 no_healthy_backend, yet requests are still tried on them (panic mode) and served",
    async () => {
      const out = Promise.all([pair.nextLog(failing("flip"), "flip failing"), pair.nextLog(failing("flop"), "flop failing")]);
      flip.setProbe(false);
      flop.setProbe(false);
      await out;
      expect(await ready(pair)).toEqual({ status: 503, body: expect.objectContaining({ status: "no_healthy_backend", healthy_backends: [] }) });
      // the probes may be wrong (a health endpoint broken, the model fine): refusing would
      // turn that into an outage
      const served = await chatSequence(pair.url, "pair", 4);
      expect(served.every((b) => b === "flip" || b === "flop")).toBe(true);

      const back = Promise.all([pair.nextLog(passing("flip"), "flip passing"), pair.nextLog(passing("flop"), "flop passing")]);
      flip.setProbe(true);
      flop.setProbe(true);
      await back;
      expect((await ready(pair)).status).toBe(200);
    },
    15_000,
  );

  test(
    "a reload that turns a failing backend's probes off (interval: 0s) puts it back in service",
    async () => {
      const out = pair.nextLog(failing("flip"), "flip failing its probes");
      flip.setProbe(false);
      await out;
      const reloaded = pair.nextLog((l) => l.msg === "config reloaded", "config reloaded");
      saveInPlace(pair.configPath, pairConfig("{ path: /probe, interval: 0s }"));
      await reloaded;
      // nothing probes it any more, so nothing can ever say it passes again: the verdict
      // of the probes that were turned off must not keep it out for good
      expect(await metric(pair.url, "llmproxy_backend_up", { backend: "flip" })).toBe(1);
      expect(tally(await chatSequence(pair.url, "pair", 10))).toEqual({ flip: 5, flop: 5 });
    },
    15_000,
  );
});

describe("health paths and intervals", () => {
  test("a health path the backend answers 404 takes it out; its route's traffic goes to the other target", async () => {
    const out = await paths.waitForLog(failing("misaimed"), "misaimed failing its probes");
    expect(out).toMatchObject({ path: "/nope" });
    expect(await metric(paths.url, "llmproxy_backend_up", { backend: "misaimed" })).toBe(0);
    // requests other than its probes that reached it
    const traffic = () => misaimed.backend.stats.requests - nopes.get(misaimed)!;
    const before = traffic();
    expect(tally(await chatSequence(paths.url, "mixed", 10))).toEqual({ "default-path": 10 });
    expect(traffic()).toBe(before);
  });

  test("the default path (/v1/models) passes on an OpenAI-compatible server", async () => {
    expect(await metric(paths.url, "llmproxy_backend_up", { backend: "default-path" })).toBe(1);
    expect(paths.logs.some(failing("default-path"))).toBe(false);
  });

  test("interval: 0s turns probes off: the backend is never probed, stays up and serves", async () => {
    // misaimed, probed every 100 ms, has had three probes: a backend on any probe
    // interval up to that would have had at least one by now
    await nopeCount(misaimed, 3);
    expect(nopes.get(unprobed)).toBe(0);
    expect(await metric(paths.url, "llmproxy_backend_up", { backend: "unprobed" })).toBe(1);
    expect(paths.logs.some(failing("unprobed"))).toBe(false);
    const res = await chat(paths.url, "solo-unprobed");
    expect({ status: res.status, backend: res.backend }).toEqual({ status: 200, backend: "unprobed" });
  });
});
