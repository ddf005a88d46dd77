// The admin REST API for keys (/admin/keys, /admin/usage) on the real daemon, and limits
// at the global and model scopes.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startMockServer, type MockServer } from "../../src/mock/server.ts";
import { startProxy, type ProxyProcess } from "../helpers/proxy.ts";

const ADMIN = "admin-token-for-tests";
let mock: MockServer;
let dir: string;
let proxy: ProxyProcess;

beforeAll(async () => {
  mock = await startMockServer({ tokens: 5, delayMs: 0 });
  dir = mkdtempSync(join(tmpdir(), "llmproxy-admin-keys-"));
  proxy = await startProxy({
    dir,
    config: `auth: keys
database: data/keys.db
admin_token: ${ADMIN}
metrics: { key_labels: true }
limits:
  models:
    capped: { rpm: 1 }
  global: { tpm: 1000000 }
backends:
  - { name: vllm, provider: openai, url: ${mock.url} }
models:
  - { name: llama, targets: [{ backend: vllm }] }
  - { name: capped, targets: [{ backend: vllm }] }
retries: { attempts: 0 }
`,
  });
});

afterAll(async () => {
  expect(await proxy.stop()).toBe(0);
  await mock.stop();
  rmSync(dir, { recursive: true, force: true });
});

function admin(method: string, path: string, body?: unknown, token = ADMIN): Promise<Response> {
  return fetch(`${proxy.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

function chat(secret: string, model = "llama"): Promise<Response> {
  return fetch(`${proxy.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${secret}` },
    body: JSON.stringify({ model, messages: [{ role: "user", content: "hi" }] }),
  });
}

type KeyJson = { id: string; name: string; prefix: string; status: string; secret?: string; limits: { rpm: number | null }; models: string[] };

describe("/admin/keys", () => {
  test("create answers 201 with the secret once; list and show never include it", async () => {
    const res = await admin("POST", "/admin/keys", { name: "svc-a", models: ["llama"], rpm: 100, quota: { daily: 50000 }, metadata: { team: "search" } });
    expect(res.status).toBe(201);
    const created = (await res.json()) as KeyJson;
    expect(created.secret).toMatch(/^sk-llmp-/);
    expect(created.prefix).toBe(created.secret!.slice(0, created.prefix.length));
    const listed = await (await admin("GET", "/admin/keys")).text();
    expect(listed).toContain(created.id);
    expect(listed).not.toContain(created.secret!);
    const shown = await (await admin("GET", `/admin/keys/${created.id}`)).text();
    expect(shown).not.toContain(created.secret!);
    expect(JSON.parse(shown)).toMatchObject({ id: created.id, name: "svc-a", status: "active", models: ["llama"], limits: { rpm: 100 } });
  });

  test("the database file the daemon created is not world- or group-readable", () => {
    const mode = statSync(join(dir, "data", "keys.db")).mode & 0o777;
    expect(mode & 0o077).toBe(0);
  });

  test("PATCH changes limits and takes effect at once", async () => {
    const k = (await (await admin("POST", "/admin/keys", { name: "svc-b" })).json()) as KeyJson;
    expect((await chat(k.secret!, "llama")).status).toBe(200);
    const patched = await admin("PATCH", `/admin/keys/${k.id}`, { models: ["gpt-*"] });
    expect(patched.status).toBe(200);
    expect(((await patched.json()) as KeyJson).models).toEqual(["gpt-*"]);
    const refused = await chat(k.secret!, "llama");
    expect(refused.status).toBe(403);
  });

  test("rotate: the new secret works at once, the old one during its grace time only", async () => {
    const k = (await (await admin("POST", "/admin/keys", { name: "svc-c" })).json()) as KeyJson;
    const graced = (await (await admin("POST", `/admin/keys/${k.id}/rotate`, { grace: "1h" })).json()) as KeyJson;
    expect(graced.secret).not.toBe(k.secret);
    expect((await chat(graced.secret!)).status).toBe(200);
    expect((await chat(k.secret!)).status).toBe(200); // still within the grace hour
    const now = (await (await admin("POST", `/admin/keys/${k.id}/rotate`, {})).json()) as KeyJson;
    expect((await chat(now.secret!)).status).toBe(200);
    expect((await chat(graced.secret!)).status).toBe(401); // no grace this time
    expect((await chat(k.secret!)).status).toBe(401);
  });

  test("bad input: 400 with every problem, nothing created", async () => {
    const before = ((await (await admin("GET", "/admin/keys")).json()) as { data: unknown[] }).data.length;
    const res = await admin("POST", "/admin/keys", { name: "", rpm: -3, ips: ["10.0.0.0/33"], expires: "yesterday", colour: "red" });
    expect(res.status).toBe(400);
    const msg = ((await res.json()) as { error: { message: string; code: string } }).error;
    expect(msg.code).toBe("invalid_request");
    for (const part of ["colour", "name", "rpm", "ips", "expires"]) expect(msg.message).toContain(part);
    const after = ((await (await admin("GET", "/admin/keys")).json()) as { data: unknown[] }).data.length;
    expect(after).toBe(before);
    expect((await admin("POST", "/admin/keys", "not an object")).status).toBe(400);
  });

  test("an unknown id is 404; a wrong token is 401; a wrong method is 405", async () => {
    expect((await admin("GET", "/admin/keys/key_nope")).status).toBe(404);
    expect((await admin("DELETE", "/admin/keys/key_nope")).status).toBe(404);
    expect((await admin("GET", "/admin/keys", undefined, "wrong")).status).toBe(401);
    expect((await admin("PUT", "/admin/keys")).status).toBe(405);
  });

  test("/admin/usage reports the tokens a key used", async () => {
    const k = (await (await admin("POST", "/admin/keys", { name: "metered" })).json()) as KeyJson;
    const res = await chat(k.secret!);
    const rid = res.headers.get("x-request-id")!;
    await res.text();
    const line = await proxy.waitForLog((l) => l.msg === "request" && l.request_id === rid, "the metered request");
    // the key's quota counters, live (the report's groups follow once the records are written)
    const usage = (await (await admin("GET", `/admin/usage?key=${k.id}`)).json()) as { key: { used: { total: number; today: number } } };
    const expected = Number(line.prompt_tokens) + Number(line.completion_tokens);
    expect(usage.key.used).toMatchObject({ total: expected, today: expected });
  });
});

describe("metrics per key", () => {
  test("with metrics.key_labels: true, requests and tokens are exported per key id (never the secret)", async () => {
    const k = (await (await admin("POST", "/admin/keys", { name: "labelled" })).json()) as KeyJson;
    const res = await chat(k.secret!);
    const rid = res.headers.get("x-request-id")!;
    await res.text();
    await proxy.waitForLog((l) => l.msg === "request" && l.request_id === rid, "the labelled request");
    const text = await (await fetch(`${proxy.url}/metrics`)).text();
    expect(text).toContain(`llmproxy_key_requests_total{key="${k.id}",status_class="2xx"} 1`);
    expect(text).toMatch(new RegExp(`llmproxy_key_tokens_total\\{key="${k.id}",type="completion"\\} 5`));
    expect(text).not.toContain(k.secret!);
  });
});

describe("limits at the model scope", () => {
  test("a model's rpm is shared by every key", async () => {
    const a = (await (await admin("POST", "/admin/keys", { name: "model-a" })).json()) as KeyJson;
    const b = (await (await admin("POST", "/admin/keys", { name: "model-b" })).json()) as KeyJson;
    expect((await chat(a.secret!, "capped")).status).toBe(200);
    const refused = await chat(b.secret!, "capped");
    expect(refused.status).toBe(429);
    expect(((await refused.json()) as { error: { message: string } }).error.message).toContain('model "capped"');
    // the other model is not limited
    expect((await chat(b.secret!, "llama")).status).toBe(200);
  });
});
