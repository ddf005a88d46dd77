// What the HTTP server edge (Bun.serve in the executable, node:http in the Node bundle)
// lets through to routing: a Host header or request target must never change the path
// the gateway routes on, odd methods get an error in the gateway's shape, and a client
// that takes the gateway for a forward proxy (absolute-form target) is served.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { rawRequest, type RawResponse } from "../helpers/raw-http.ts";
import { startProxy, type ProxyProcess } from "../helpers/proxy.ts";

let proxy: ProxyProcess;

beforeAll(async () => {
  proxy = await startProxy({
    config: "backends: [{ name: m, provider: mock }]\nmodels: [{ name: x, targets: [{ backend: m }] }]\n",
  });
});
afterAll(async () => {
  await proxy.stop();
});

const CHAT = JSON.stringify({ model: "x", messages: [{ role: "user", content: "hi" }] });

function expectErrorShape(r: RawResponse): void {
  expect(r.header("content-type")).toContain("application/json");
  const body = JSON.parse(r.body.toString()) as { error: { message: string; type: string; code: string } };
  expect(body.error.type).toBe("invalid_request_error");
  expect(typeof body.error.message).toBe("string");
  expect(typeof body.error.code).toBe("string");
}

describe("the HTTP server edge", () => {
  test("a Host header that would move the path is not routed on: /chat/completions stays unknown", async () => {
    // "x/v1" naively joined as "http://" + host + path would route to /v1/chat/completions
    const r = await rawRequest(proxy.url, { method: "POST", path: "/chat/completions", headers: [["Host", "x/v1"], ["Content-Type", "application/json"]], body: CHAT });
    expect([400, 404]).toContain(r.status);
    expectErrorShape(r);
  });

  test("a Host header with a query cut cannot reach another endpoint either", async () => {
    const r = await rawRequest(proxy.url, { method: "GET", path: "/ready", headers: [["Host", "evil/health?"]] });
    expect([400, 404]).toContain(r.status);
    expectErrorShape(r);
    expect(r.body.toString()).not.toContain('"status":"ok"');
  });

  test("TRACE gets an error in the gateway's shape, never an echo", async () => {
    const r = await rawRequest(proxy.url, { method: "TRACE", path: "/health" });
    expect([400, 405]).toContain(r.status);
    expectErrorShape(r);
  });

  test("an absolute-form target (a client that takes the gateway for a proxy) is served", async () => {
    const r = await rawRequest(proxy.url, { method: "POST", path: `${proxy.url}/v1/chat/completions`, headers: [["Content-Type", "application/json"]], body: CHAT });
    expect(r.status).toBe(200);
    expect((JSON.parse(r.body.toString()) as { object: string }).object).toBe("chat.completion");
  });
});
