// Backend capacity (max_inflight) and model listing.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startMockServer, type MockServer } from "../../src/mock/server.ts";
import { startProxy, type ProxyProcess } from "../helpers/proxy.ts";

let small: MockServer;
let spare: MockServer;
let proxy: ProxyProcess;

beforeAll(async () => {
  small = await startMockServer({ tokens: 3, delayMs: 0 });
  spare = await startMockServer({ tokens: 3, delayMs: 0 });
  proxy = await startProxy({
    config: `
backends:
  - { name: small, provider: openai, url: ${small.url}, max_inflight: 1 }
  - { name: spare, provider: openai, url: ${spare.url} }
models:
  - { name: only-small, targets: [{ backend: small }] }
  - { name: "org/with-slash", strategy: priority, targets: [{ backend: small }, { backend: spare }] }
retries: { attempts: 0 }
`,
  });
});

afterAll(async () => {
  expect(await proxy.stop()).toBe(0);
  await small.stop();
  await spare.stop();
});

/** One sample's value from /metrics (0 when the series does not exist yet). */
async function metric(series: string): Promise<number> {
  const text = await (await fetch(`${proxy.url}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(series + " "));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

function chat(model: string, headers: Record<string, string> = {}, signal?: AbortSignal): Promise<Response> {
  return fetch(`${proxy.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ model, messages: [{ role: "user", content: "hi" }] }),
    signal,
  });
}

describe("max_inflight", () => {
  test("a backend at its limit is passed over; with no other target the client gets 503 no_backend_available", async () => {
    const hold = new AbortController();
    const arrived = small.backend.nextStart();
    const held = chat("only-small", { "x-mock-hang": "headers" }, hold.signal).catch((e: unknown) => e);
    await arrived;

    // the held request shows in the in-flight gauge
    expect(await metric("llmproxy_inflight_requests")).toBe(1);

    const refused = await chat("only-small");
    expect(refused.status).toBe(503);
    expect(refused.headers.get("retry-after")).toBe("1");
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("no_backend_available");

    // a route with another target goes there instead
    const servedBySpare = spare.backend.nextEnd();
    const ok = await chat("org/with-slash");
    expect(ok.status).toBe(200);
    expect((await servedBySpare).path).toBe("/v1/chat/completions");

    const heldEnded = proxy.waitForLog((l) => l.msg === "request" && l.status === 499 && l.route === "only-small", "the held request's access line");
    hold.abort();
    await held;
    await heldEnded;
    // the slot is free again once the held request ended
    const again = await chat("only-small");
    expect(again.status).toBe(200);
  });
});

describe("GET /v1/models", () => {
  test("lists the configured model names; GET /v1/models/{id} retrieves one, slashes included", async () => {
    const list = (await (await fetch(`${proxy.url}/v1/models`)).json()) as { object: string; data: { id: string }[] };
    expect(list.object).toBe("list");
    expect(list.data.map((m: { id: string }) => m.id).sort()).toEqual(["only-small", "org/with-slash"]);
    const one = await fetch(`${proxy.url}/v1/models/org/with-slash`);
    expect(one.status).toBe(200);
    expect(await one.json()).toMatchObject({ id: "org/with-slash", object: "model", owned_by: "llmproxy" });
    const none = await fetch(`${proxy.url}/v1/models/nope`);
    expect(none.status).toBe(404);
    expect(((await none.json()) as { error: { code: string } }).error.code).toBe("model_not_found");
    // a malformed %-encoding names no model either (and is not a gateway failure)
    const malformed = await fetch(`${proxy.url}/v1/models/%E0%A4%A`);
    expect(malformed.status).toBe(404);
  });
});

describe("metrics of failures after the answer started", () => {
  test("a stream the backend drops counts as an upstream error of that backend", async () => {
    const before = await metric('llmproxy_upstream_errors_total{backend="small",code="upstream_error"}');
    const res = await fetch(`${proxy.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-mock-drop-after": "1" },
      body: JSON.stringify({ model: "only-small", messages: [{ role: "user", content: "hi" }], stream: true }),
    });
    const id = res.headers.get("x-request-id")!;
    await res.text();
    await proxy.waitForLog((l) => l.msg === "request" && l.request_id === id, "the dropped stream's access line");
    expect(await metric('llmproxy_upstream_errors_total{backend="small",code="upstream_error"}')).toBe(before + 1);
  });
});
