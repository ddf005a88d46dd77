// Retries, passive health (the circuit breaker) and failover on the real daemon: a
// backend that dies, refuses (500), rate-limits (429 + Retry-After) or hangs is skipped
// and the client still gets its answer from another target; a failing backend is
// ejected, and comes back through one trial request once its cool-down passed; fallback
// routes answer when a route's own targets cannot; and when nothing can answer, the
// client gets one clear OpenAI-style error, never a hang.
// Every backend here belongs to one test, so one test's failures never eject another's.
// With LLMPROXY_BIN set, this runs against the compiled executable.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startMockServer, type MockServer } from "../../src/mock/server.ts";
import { mockCompletionText } from "../../src/mock/text.ts";
import { chatText, metricValue, readSse } from "../helpers/daemon.ts";
import { startProxy, type LogLine, type ProxyProcess } from "../helpers/proxy.ts";
import { holdRefusingPorts, type RefusingPorts } from "../helpers/refusing-ports.ts";
import { chat, chatOk, chatSequence, errorOf, isBack, isEjection, metric, metricsText, tally, type Served, ROUTING_CONFIG_HEAD } from "../helpers/routing.ts";
import { startSwitchableBackend, type SwitchableBackend } from "../helpers/switchable-backend.ts";

/** Ports that refuse connections for as long as the test runs (never handed to another server). */
let held: RefusingPorts;
// "kill": a backend stopped mid-run (on a held port, so it stays dead)
let doomed: SwitchableBackend;
let survivor: MockServer;
// "five": a backend answering 500
let erring: SwitchableBackend;
// "limited": a backend answering 429 with Retry-After
let limited: SwitchableBackend;
// "hang": a backend that never sends its headers
let hanging: SwitchableBackend;
/** The healthy second target of the 500, 429 and hang routes; ~20 ms per answer. */
let steady: MockServer;
/** Always 503 (never ejected): the first target of a streamed route. */
let streamRefuser: SwitchableBackend;
// fallback
let broken: SwitchableBackend;
let backup: MockServer;
// all down
let dead: string[];
let refusers: MockServer[];
let full: MockServer[];
let proxy: ProxyProcess;

beforeAll(async () => {
  held = await holdRefusingPorts(4);
  doomed = await startSwitchableBackend({ tokens: 2, delayMs: 0, port: held.ports[3], reusePort: true });
  survivor = await startMockServer({ tokens: 2, delayMs: 0 });
  erring = await startSwitchableBackend({ tokens: 2, delayMs: 0, behaviour: { kind: "status", status: 500 } });
  limited = await startSwitchableBackend({ tokens: 2, delayMs: 0, behaviour: { kind: "status", status: 429, retryAfter: "1" } });
  hanging = await startSwitchableBackend({ tokens: 2, delayMs: 0, behaviour: { kind: "hang" } });
  // Each of its answers takes ~20 ms to generate, so a loop of requests that waits for
  // another backend's cool-down to pass sends tens of requests, not thousands.
  steady = await startMockServer({ tokens: 3, delayMs: 10 });
  broken = await startSwitchableBackend({ behaviour: { kind: "status", status: 500 } });
  backup = await startMockServer({ tokens: 2, delayMs: 0 });
  streamRefuser = await startSwitchableBackend({ behaviour: { kind: "status", status: 503 } });
  dead = held.urls.slice(0, 3);
  refusers = await Promise.all([startMockServer(), startMockServer()]);
  full = await Promise.all([startMockServer(), startMockServer()]);
  proxy = await startProxy({
    config: `
${ROUTING_CONFIG_HEAD}x-quiet: &quiet { interval: 0s }
backends:
  - name: doomed
    provider: openai
    url: ${doomed.url}
    health: *quiet
    # long enough that it stays out for the rest of the test
    circuit: { failures: 3, cooldown: 1m }
  - { name: survivor, provider: openai, url: ${survivor.url}, health: *quiet }
  - name: erring
    provider: openai
    url: ${erring.url}
    health: *quiet
    circuit: { failures: 2, cooldown: 200ms }
  - name: limited
    provider: openai
    url: ${limited.url}
    health: *quiet
    # a 429 is not a failure: even a one-failure circuit leaves it in
    circuit: { failures: 1, cooldown: 1m }
  - name: hanging
    provider: openai
    url: ${hanging.url}
    health: *quiet
    timeouts: { first_byte: 300ms }
    circuit: { failures: 1, cooldown: 200ms }
  - { name: steady, provider: openai, url: ${steady.url}, health: *quiet }
  - name: broken
    provider: openai
    url: ${broken.url}
    health: *quiet
    circuit: { failures: 1, cooldown: 1m }
  - { name: backup, provider: openai, url: ${backup.url}, health: *quiet }
  - { name: stream-refuser, provider: openai, url: ${streamRefuser.url}, health: *quiet, circuit: { failures: 1000 } }
${dead.map((u, i) => `  - { name: dead${i + 1}, provider: openai, url: ${u}, health: *quiet, circuit: { failures: 1, cooldown: 1m } }`).join("\n")}
${refusers.map((m, i) => `  - { name: refuser${i + 1}, provider: openai, url: ${m.url}, health: *quiet }`).join("\n")}
${full.map((m, i) => `  - { name: full${i + 1}, provider: openai, url: ${m.url}, health: *quiet, max_inflight: 1 }`).join("\n")}
models:
  - { name: kill, strategy: round_robin, targets: [{ backend: doomed }, { backend: survivor }] }
  - { name: five, strategy: priority, targets: [{ backend: erring }, { backend: steady }] }
  - { name: limited, strategy: priority, targets: [{ backend: limited }, { backend: steady }] }
  - { name: hang, strategy: priority, targets: [{ backend: hanging }, { backend: steady }] }
  - { name: stream-five, strategy: priority, targets: [{ backend: stream-refuser }, { backend: survivor }] }
  - { name: main-model, targets: [{ backend: broken }], fallback: [backup-model] }
  - { name: backup-model, targets: [{ backend: backup, model: backup-upstream-name }] }
  - { name: all-dead, targets: [{ backend: dead1 }, { backend: dead2 }, { backend: dead3 }] }
  - { name: all-refuse, targets: [{ backend: refuser1 }, { backend: refuser2 }] }
  - { name: all-full, targets: [{ backend: full1 }, { backend: full2 }] }
retries: { attempts: 1, backoff: 5ms }
`,
  });
});

afterAll(async () => {
  expect(await proxy.stop()).toBe(0);
  await Promise.all([doomed, survivor, erring, limited, hanging, steady, streamRefuser, broken, backup, ...refusers, ...full].map((s) => s.stop()));
  await held.stop();
});

function linesOf(route: string): LogLine[] {
  return proxy.requests().filter((l) => l.route === route);
}

describe("a backend killed mid-run", () => {
  test(
    "no request started after the kill fails: each one that tried the dead backend is retried on the other, which is ejected after 3 failures and then not tried at all",
    async () => {
      const before = await chatSequence(proxy.url, "kill", 10);
      expect(tally(before)).toEqual({ doomed: 5, survivor: 5 });

      await doomed.stop();
      const ejected = proxy.nextLog(isEjection("doomed"), "the dead backend's ejection");
      const after: Served[] = [];
      for (let i = 0; i < 30; i++) after.push(await chat(proxy.url, "kill"));
      expect(after.map((s) => s.status)).toEqual(after.map(() => 200));
      expect(tally(after.map((s) => s.backend))).toEqual({ survivor: 30 });

      const ejection = await ejected;
      // the first request after the kill may still pick a pooled connection the server
      // just closed (upstream_error); a new one is refused (upstream_connect_error)
      expect(["upstream_connect_error", "upstream_error"]).toContain(ejection.last_error as string);
      expect(ejection).toMatchObject({ failures_in_a_row: 3, cooldown_ms: 60_000 });

      // round robin sends every other request to the dead backend first, until it is out
      const lines = await Promise.all(after.map((s) => proxy.accessLine(s.requestId)));
      const retried = lines.filter((l) => l.retries === 1);
      expect(retried).toHaveLength(3);
      expect(lines.every((l) => l.backend === "survivor" && l.status === 200 && l.error_code === null)).toBe(true);
      // x-llmproxy-backend (server.backend_header) names the backend the access log names
      expect(after.map((s) => s.backend)).toEqual(lines.map((l) => l.backend as string));
      // after the third failure nothing tries it: every later request is a first attempt
      const lastRetried = lines.lastIndexOf(retried[2]!);
      expect(lines.slice(lastRetried + 1).map((l) => l.retries)).toEqual(lines.slice(lastRetried + 1).map(() => 0));

      const text = await metricsText(proxy.url);
      expect(metricValue(text, "llmproxy_backend_ejections_total", { backend: "doomed" })).toBe(1);
      expect(metricValue(text, "llmproxy_backend_up", { backend: "doomed" })).toBe(0);
      expect(metricValue(text, "llmproxy_backend_up", { backend: "survivor" })).toBe(1);
      // retries show in the metric: one per retried request of the route
      const retriesInLog = linesOf("kill").reduce((n, l) => n + Number(l.retries), 0);
      expect(retriesInLog).toBe(3);
      expect(metricValue(text, "llmproxy_retries_total", { model: "kill" })).toBe(retriesInLog);
    },
    30_000,
  );
});

describe("a backend answering 500", () => {
  test(
    "is skipped (the client gets 200 from the other target), ejected after 2 failures, re-ejected for twice as long when its trial fails, and back once a trial succeeds",
    async () => {
      const ejected = proxy.nextLog(isEjection("erring"), "the first ejection");
      const first = await chat(proxy.url, "five");
      expect({ status: first.status, backend: first.backend }).toEqual({ status: 200, backend: "steady" });
      expect(await proxy.accessLine(first.requestId)).toMatchObject({ backend: "steady", retries: 1, status: 200, error_code: null });
      expect(await chatOk(proxy.url, "five")).toBe("steady");
      expect(await ejected).toMatchObject({ last_error: "http_500", failures_in_a_row: 2, cooldown_ms: 200 });
      expect(await metric(proxy.url, "llmproxy_backend_ejections_total", { backend: "erring", code: "http_500" })).toBe(1);
      expect(await metric(proxy.url, "llmproxy_upstream_errors_total", { backend: "erring", code: "http_500" })).toBeGreaterThanOrEqual(2);

      // still failing: the trial after the cool-down fails and ejects it again at once
      // (one failure, not two), for twice as long. Requests are sent only until that
      // happens, bounded by count (each takes ~20 ms on the other backend).
      const again = proxy.nextLog(isEjection("erring"), "the second ejection");
      let reEjected: LogLine | null = null;
      void again.then((l) => (reEjected = l));
      for (let i = 0; i < 1000 && reEjected === null; i++) expect(await chatOk(proxy.url, "five")).toBe("steady");
      expect(await again).toMatchObject({ last_error: "http_500", cooldown_ms: 400 });

      // it works again: the next trial succeeds and it serves the route once more
      erring.set({ kind: "ok" });
      const back = proxy.nextLog(isBack("erring"), "the backend's return");
      let servedBy = "";
      for (let i = 0; i < 1000 && servedBy !== "erring"; i++) servedBy = await chatOk(proxy.url, "five");
      expect(servedBy).toBe("erring");
      await back;
      expect(await metric(proxy.url, "llmproxy_backend_up", { backend: "erring" })).toBe(1);
      expect(tally(await chatSequence(proxy.url, "five", 5))).toEqual({ erring: 5 });
      // the client never saw an error
      expect(linesOf("five").every((l) => l.status === 200)).toBe(true);
    },
    30_000,
  );
});

describe("a backend answering 429 with Retry-After", () => {
  test(
    "is skipped and left alone for its Retry-After, without counting as a failure; then it is used again",
    async () => {
      const paused = proxy.nextLog((l) => l.msg.startsWith("backend rate limited") && l.backend === "limited", "the rate-limit pause");
      const first = await chat(proxy.url, "limited");
      expect({ status: first.status, backend: first.backend }).toEqual({ status: 200, backend: "steady" });
      expect(await proxy.accessLine(first.requestId)).toMatchObject({ retries: 1, status: 200 });
      expect(await paused).toMatchObject({ pause_ms: 1000 });
      expect(limited.arrived).toBe(1);
      // while paused it is not tried: the next request goes straight to the other target
      // (a one-failure circuit would have ejected it, had the 429 counted as a failure)
      const second = await chat(proxy.url, "limited");
      expect(second.backend).toBe("steady");
      expect(await proxy.accessLine(second.requestId)).toMatchObject({ retries: 0, status: 200 });
      expect(limited.arrived).toBe(1);
      expect(await metric(proxy.url, "llmproxy_backend_ejections_total", { backend: "limited" })).toBe(0);
      expect(await metric(proxy.url, "llmproxy_backend_up", { backend: "limited" })).toBe(0);
      expect(proxy.logs.some(isEjection("limited"))).toBe(false);

      // once the Retry-After passed it takes requests again. The loop is bounded by count
      // and sends requests only until it serves one (each takes ~20 ms on the other).
      limited.set({ kind: "ok" });
      let servedBy = "";
      for (let i = 0; i < 1000 && servedBy !== "limited"; i++) servedBy = await chatOk(proxy.url, "limited");
      expect(servedBy).toBe("limited");
      expect(await metric(proxy.url, "llmproxy_backend_up", { backend: "limited" })).toBe(1);
    },
    30_000,
  );
});

describe("a backend that hangs before its headers", () => {
  test(
    "is given up at its first-byte timeout and the request retried on the other target; it comes back after its cool-down",
    async () => {
      const ejected = proxy.nextLog(isEjection("hanging"), "the hanging backend's ejection");
      const aborted = hanging.backend.nextEnd();
      const first = await chat(proxy.url, "hang");
      expect({ status: first.status, backend: first.backend }).toEqual({ status: 200, backend: "steady" });
      expect(await proxy.accessLine(first.requestId)).toMatchObject({ retries: 1, status: 200 });
      // the hung request was aborted at the backend, not left running
      expect((await aborted).aborted).toBe(true);
      expect(await ejected).toMatchObject({ last_error: "upstream_first_byte_timeout", cooldown_ms: 200 });
      expect(await metric(proxy.url, "llmproxy_upstream_errors_total", { backend: "hanging", code: "upstream_first_byte_timeout" })).toBe(1);

      hanging.set({ kind: "ok" });
      const back = proxy.nextLog(isBack("hanging"), "the hanging backend's return");
      let servedBy = "";
      for (let i = 0; i < 1000 && servedBy !== "hanging"; i++) servedBy = await chatOk(proxy.url, "hang");
      expect(servedBy).toBe("hanging");
      await back;
    },
    30_000,
  );
});

describe("a streamed request", () => {
  test("refused by its first target before any byte, is retried: the client gets the whole stream from the other", async () => {
    const res = await fetch(`${proxy.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "stream-five", messages: [{ role: "user", content: "hi" }], stream: true }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toStartWith("text/event-stream");
    expect(res.headers.get("x-llmproxy-backend")).toBe("survivor");
    const { data, error } = await readSse(res).rest();
    expect(error).toBeNull();
    expect(chatText(data)).toBe(mockCompletionText(2));
    expect(data.at(-1)).toBe("[DONE]");
    expect(await proxy.accessLine(res.headers.get("x-request-id")!)).toMatchObject({ stream: true, backend: "survivor", retries: 1, status: 200 });
    expect(streamRefuser.arrived).toBe(1);
  });
});

describe("fallback routes", () => {
  test("when the route's only target fails, the fallback route answers: the log keeps the route, names the fallback's backend and its model", async () => {
    const atBackup = backup.backend.nextEnd();
    const res = await chat(proxy.url, "main-model");
    expect({ status: res.status, backend: res.backend }).toEqual({ status: 200, backend: "backup" });
    expect((await atBackup).model).toBe("backup-upstream-name");
    expect(await proxy.accessLine(res.requestId)).toMatchObject({
      model: "main-model",
      route: "main-model",
      backend: "backup",
      upstream_model: "backup-upstream-name",
      retries: 1,
      status: 200,
    });
    expect(broken.arrived).toBe(1);
  });

  test("once the failing target is ejected, the fallback answers at once, without trying it", async () => {
    await proxy.waitForLog(isEjection("broken"), "the broken backend's ejection");
    const res = await chat(proxy.url, "main-model");
    expect(res.status).toBe(200);
    expect(await proxy.accessLine(res.requestId)).toMatchObject({ route: "main-model", backend: "backup", retries: 0 });
    expect(broken.arrived).toBe(1);
  });
});

describe("when no candidate can answer", () => {
  test("every backend refusing connections: one 502 upstream_connect_error after 1 + retries.attempts tries, in OpenAI's shape", async () => {
    const res = await chat(proxy.url, "all-dead");
    expect(res.status).toBe(502);
    expect(res.headers.get("content-type")).toStartWith("application/json");
    expect(res.requestId).not.toBe("");
    const err = errorOf(res.text);
    expect(err).toMatchObject({ code: "upstream_connect_error", type: "server_error" });
    expect(await proxy.accessLine(res.requestId)).toMatchObject({ status: 502, error_code: "upstream_connect_error", retries: 1 });
  });

  test("panic mode: with every backend of the route ejected, they are still tried (no 503), and the client gets their error", async () => {
    // the first request ejected two of the three (failures: 1); this one ejects the third
    // and tries one more of the ejected ones
    for (let i = 0; i < 3; i++) {
      const res = await chat(proxy.url, "all-dead");
      expect(res.status).toBe(502);
      expect(errorOf(res.text).code).toBe("upstream_connect_error");
    }
    const text = await metricsText(proxy.url);
    for (const b of ["dead1", "dead2", "dead3"]) expect(metricValue(text, "llmproxy_backend_up", { backend: b })).toBe(0);
    expect(linesOf("all-dead").every((l) => l.status === 502 && l.retries === 1)).toBe(true);
  });

  test("every backend refusing with an error status: the client gets the last one's status and error", async () => {
    const res = await chat(proxy.url, "all-refuse", { headers: { "x-mock-status": "503" } });
    expect(res.status).toBe(503);
    expect(errorOf(res.text).message).toBe("mock error");
    expect(await proxy.accessLine(res.requestId)).toMatchObject({ status: 503, error_code: "upstream_http_503", retries: 1 });
    expect(refusers.map((m) => m.backend.stats.requests)).toEqual([1, 1]);
  });

  test("every backend at its max_inflight: 503 no_backend_available with Retry-After, naming why", async () => {
    const hold = new AbortController();
    const arrived = Promise.all(full.map((m) => m.backend.nextStart()));
    const held = [0, 1].map(() => chat(proxy.url, "all-full", { headers: { "x-mock-hang": "headers" }, signal: hold.signal }).catch((e: unknown) => e));
    await arrived;
    const res = await chat(proxy.url, "all-full");
    expect(res.status).toBe(503);
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    const err = errorOf(res.text);
    expect(err.code).toBe("no_backend_available");
    expect(err.message).toContain("full1: at capacity");
    expect(err.message).toContain("full2: at capacity");
    expect(full.map((m) => m.backend.stats.requests)).toEqual([1, 1]);

    const released = proxy.waitForLog(() => linesOf("all-full").filter((l) => l.status === 499).length === 2, "the held requests' access lines");
    hold.abort();
    await Promise.all(held);
    await released;
    expect(await chatOk(proxy.url, "all-full")).toStartWith("full");
  });
});
