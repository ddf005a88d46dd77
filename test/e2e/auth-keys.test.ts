// Virtual keys on the real daemon: every auth outcome, allowlists, quotas across a
// restart, rate limits and their headers, keys managed through the admin API and by
// another process writing the database. Keys are created with POST /admin/keys.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI from "openai";
import { startMockServer, type MockServer } from "../../src/mock/server.ts";
import { startProxy, type ProxyProcess } from "../helpers/proxy.ts";
import { llmproxyCommand } from "../helpers/spawn.ts";
import { adminCreateKey, keysConfig, type CreatedKey } from "../helpers/admin.ts";

const ADMIN = "admin-token-for-tests";
let mock: MockServer;
let dir: string;
let proxy: ProxyProcess;
const secrets: string[] = [];

async function createKey(body: Record<string, unknown>): Promise<CreatedKey> {
  const k = await adminCreateKey(proxy.url, ADMIN, body);
  secrets.push(k.secret);
  return k;
}

function chat(headers: Record<string, string>, model = "llama", signal?: AbortSignal): Promise<Response> {
  return fetch(`${proxy.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ model, messages: [{ role: "user", content: "hi" }] }),
    signal,
  });
}

async function errorCode(res: Response): Promise<string> {
  return ((await res.json()) as { error: { code: string } }).error.code;
}

beforeAll(async () => {
  mock = await startMockServer({ tokens: 5, delayMs: 0 });
  dir = mkdtempSync(join(tmpdir(), "llmproxy-auth-"));
  proxy = await startProxy({ config: keysConfig(mock.url, ADMIN), dir });
});

afterAll(async () => {
  expect(await proxy.stop()).toBe(0);
  // no secret ever reaches a log line
  const all = [...proxy.rawStderr, ...proxy.logs.map((l) => JSON.stringify(l))].join("\n");
  for (const s of secrets) expect(all).not.toContain(s);
  await mock.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("authentication", () => {
  test("no key: 401 missing_api_key; an unknown key: 401 invalid_api_key; nothing forwarded", async () => {
    const before = mock.backend.stats.requests;
    const none = await chat({});
    expect(none.status).toBe(401);
    expect(await errorCode(none)).toBe("missing_api_key");
    const unknown = await chat({ authorization: "Bearer sk-llmp-notarealkeynotarealkeynotarealkey" });
    expect(unknown.status).toBe(401);
    expect(await errorCode(unknown)).toBe("invalid_api_key");
    expect(mock.backend.stats.requests).toBe(before);
  });

  test("the key is accepted as Authorization: Bearer, x-api-key and api-key, and never reaches the backend", async () => {
    const k = await createKey({ name: "three-ways" });
    const ways: Record<string, string>[] = [{ authorization: `Bearer ${k.secret}` }, { "x-api-key": k.secret }, { "api-key": k.secret }];
    for (const h of ways) {
      const seen = mock.backend.nextEnd();
      const res = await chat(h);
      expect(res.status).toBe(200);
      const end = await seen;
      expect([...end.headers.values()].join("\n")).not.toContain(k.secret);
    }
    const line = await proxy.waitForLog((l) => l.msg === "request" && l.key_id === k.id, "an access line with the key id");
    expect(line.status).toBe(200);
  });

  test("the official openai client works with a key", async () => {
    const k = await createKey({ name: "sdk" });
    const client = new OpenAI({ baseURL: `${proxy.url}/v1`, apiKey: k.secret, maxRetries: 0 });
    const r = await client.chat.completions.create({ model: "llama", messages: [{ role: "user", content: "hi" }] });
    expect(r.usage?.completion_tokens).toBe(5);
  });

  test("a revoked key: 401 key_revoked", async () => {
    const k = await createKey({ name: "to-revoke" });
    expect((await chat({ authorization: `Bearer ${k.secret}` })).status).toBe(200);
    const del = await fetch(`${proxy.url}/admin/keys/${k.id}`, { method: "DELETE", headers: { authorization: `Bearer ${ADMIN}` } });
    expect(del.status).toBe(200);
    const res = await chat({ authorization: `Bearer ${k.secret}` });
    expect(res.status).toBe(401);
    expect(await errorCode(res)).toBe("key_revoked");
  });

  test("a key expired by another process writing the database: 401 key_expired, seen by the running daemon", async () => {
    const k = await createKey({ name: "to-expire", expires: "30d" });
    expect((await chat({ authorization: `Bearer ${k.secret}` })).status).toBe(200);
    // another process (this test) changes the database, as `llmproxy keys` does
    const reloaded = proxy.nextLog((l) => l.msg === "keys refreshed" && l.trigger === "database changed" && l.keys === 1, "the daemon re-reading the changed key");
    const db = new Database(join(dir, "keys.db"));
    db.run("UPDATE keys SET expires_at = ? WHERE id = ?", [Date.now() - 1000, k.id]);
    db.close();
    await reloaded;
    const res = await chat({ authorization: `Bearer ${k.secret}` });
    expect(res.status).toBe(401);
    expect(await errorCode(res)).toBe("key_expired");
  });
});

describe("keys changed by the CLI while the daemon runs", () => {
  test("a key revoked with `llmproxy keys revoke` is refused by the running daemon once it re-read that key (polled 4 times a second)", async () => {
    const k = await createKey({ name: "cli-revoked" });
    expect((await chat({ authorization: `Bearer ${k.secret}` })).status).toBe(200);
    const reloaded = proxy.nextLog((l) => l.msg === "keys refreshed" && l.trigger === "database changed" && l.keys === 1, "the daemon re-reading the changed key");
    const cli = Bun.spawn(llmproxyCommand(["keys", "revoke", k.id, "--db", join(dir, "keys.db")]), { stdout: "pipe", stderr: "pipe" });
    expect(await cli.exited).toBe(0);
    await reloaded;
    const res = await chat({ authorization: `Bearer ${k.secret}` });
    expect(res.status).toBe(401);
    expect(await errorCode(res)).toBe("key_revoked");
  });
});

describe("allowlists", () => {
  test("a model outside the key's globs: 403 model_not_allowed", async () => {
    const k = await createKey({ name: "llama-only", models: ["llama*"] });
    expect((await chat({ authorization: `Bearer ${k.secret}` }, "llama")).status).toBe(200);
    const res = await chat({ authorization: `Bearer ${k.secret}` }, "gpt-4o");
    expect(res.status).toBe(403);
    expect(await errorCode(res)).toBe("model_not_allowed");
  });

  test("GET /v1/models lists the models the key may use; without a key it is refused", async () => {
    const k = await createKey({ name: "lister", models: ["llama*"] });
    const list = async (headers: Record<string, string>) => fetch(`${proxy.url}/v1/models`, { headers });
    const narrow = (await (await list({ authorization: `Bearer ${k.secret}` })).json()) as { data: { id: string }[] };
    expect(narrow.data.map((m) => m.id)).toEqual(["llama"]);
    const wide = await createKey({ name: "lister-all" });
    const all = (await (await list({ authorization: `Bearer ${wide.secret}` })).json()) as { data: { id: string }[] };
    expect(all.data.map((m) => m.id).sort()).toEqual(["gpt-4o", "llama"]);
    // the SDK's models.list() works with the same key
    const client = new OpenAI({ baseURL: `${proxy.url}/v1`, apiKey: k.secret });
    expect((await client.models.list()).data.map((m) => m.id)).toEqual(["llama"]);
    const none = await list({});
    expect(none.status).toBe(401);
    expect(await errorCode(none)).toBe("missing_api_key");
    // one model outside the allowlist does not exist for this key
    const one = await fetch(`${proxy.url}/v1/models/gpt-4o`, { headers: { authorization: `Bearer ${k.secret}` } });
    expect(one.status).toBe(404);
    expect(await errorCode(one)).toBe("model_not_found");
    expect((await fetch(`${proxy.url}/v1/models/llama`, { headers: { authorization: `Bearer ${k.secret}` } })).status).toBe(200);
  });

  test("a client address outside the key's CIDRs: 403 ip_not_allowed; inside: allowed", async () => {
    const outside = await createKey({ name: "lan-only", ips: ["10.0.0.0/8", "fd00::/8"] });
    const res = await chat({ authorization: `Bearer ${outside.secret}` });
    expect(res.status).toBe(403);
    expect(await errorCode(res)).toBe("ip_not_allowed");
    const inside = await createKey({ name: "loopback", ips: ["127.0.0.0/8", "::1"] });
    expect((await chat({ authorization: `Bearer ${inside.secret}` })).status).toBe(200);
  });
});

describe("quotas", () => {
  test("a key over its token quota gets 429 insufficient_quota, and still does after a restart", async () => {
    // one answer costs prompt + 5 completion tokens: more than 5
    const k = await createKey({ name: "small-quota", quota: { total: 5 } });
    expect((await chat({ authorization: `Bearer ${k.secret}` })).status).toBe(200);
    await proxy.waitForLog((l) => l.msg === "request" && l.key_id === k.id, "the charged request");
    const over = await chat({ authorization: `Bearer ${k.secret}` });
    expect(over.status).toBe(429);
    expect(await errorCode(over)).toBe("insufficient_quota");

    // the debit is written at shutdown and read at start
    expect(await proxy.stop()).toBe(0);
    proxy = await startProxy({ config: keysConfig(mock.url, ADMIN), dir });
    const after = await chat({ authorization: `Bearer ${k.secret}` });
    expect(after.status).toBe(429);
    expect(await errorCode(after)).toBe("insufficient_quota");
    const usage = (await (await fetch(`${proxy.url}/admin/usage?key=${k.id}`, { headers: { authorization: `Bearer ${ADMIN}` } })).json()) as {
      key: { used: { total: number } };
    };
    expect(usage.key.used.total).toBeGreaterThan(5);
  });
});

describe("rate limits", () => {
  test("tpm per key: a request reserves its estimate; past the minute's tokens 429 with the tokens headers", async () => {
    // each request reserves ~prompt/4 + max_tokens; 2 requests of max_tokens 400 exceed 600
    const k = await createKey({ name: "token-budget", tpm: 600 });
    const body = (max: number) =>
      fetch(`${proxy.url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${k.secret}` },
        body: JSON.stringify({ model: "llama", messages: [{ role: "user", content: "hi" }], max_tokens: max }),
      });
    const first = await body(400);
    expect(first.status).toBe(200);
    expect(first.headers.get("x-ratelimit-limit-tokens")).toBe("600");
    // settled with the real count (a few tokens), so most of the reservation came back
    await proxy.waitForLog((l) => l.msg === "request" && l.key_id === k.id, "the first request's end");
    expect((await body(400)).status).toBe(200);
    await proxy.waitForLog((l) => l.msg === "request" && l.key_id === k.id && l.request_id !== first.headers.get("x-request-id"), "the second request's end");
    const big = await body(5000); // more than the capacity: only a full bucket takes it
    expect(big.status).toBe(429);
    expect(await errorCode(big)).toBe("rate_limit_exceeded");
    expect(big.headers.get("x-ratelimit-remaining-tokens")).not.toBeNull();
  });

  test("rpm per key: the answers carry x-ratelimit-* headers; past the limit 429 rate_limit_exceeded with Retry-After", async () => {
    const k = await createKey({ name: "two-a-minute", rpm: 2 });
    const first = await chat({ authorization: `Bearer ${k.secret}` });
    expect(first.status).toBe(200);
    expect(first.headers.get("x-ratelimit-limit-requests")).toBe("2");
    expect(first.headers.get("x-ratelimit-remaining-requests")).toBe("1");
    expect(first.headers.get("x-ratelimit-reset-requests")).toMatch(/^\d+(\.\d+)?m?s$|^\d+m\d+(\.\d+)?s$/);
    expect((await chat({ authorization: `Bearer ${k.secret}` })).status).toBe(200);
    const third = await chat({ authorization: `Bearer ${k.secret}` });
    expect(third.status).toBe(429);
    expect(await errorCode(third)).toBe("rate_limit_exceeded");
    expect(Number(third.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(third.headers.get("x-ratelimit-remaining-requests")).toBe("0");
    // another key is not affected
    const other = await createKey({ name: "unaffected", rpm: 2 });
    expect((await chat({ authorization: `Bearer ${other.secret}` })).status).toBe(200);
  });

  test("concurrency per key: a second request while one is in flight gets 429; once it ended one is admitted again", async () => {
    const k = await createKey({ name: "one-at-a-time", concurrency: 1 });
    const hold = new AbortController();
    const arrived = mock.backend.nextStart();
    const held = chat({ authorization: `Bearer ${k.secret}`, "x-mock-hang": "headers" }, "llama", hold.signal).catch(() => null);
    await arrived;
    const second = await chat({ authorization: `Bearer ${k.secret}` });
    expect(second.status).toBe(429);
    expect(await errorCode(second)).toBe("rate_limit_exceeded");
    // the client of the held request goes away: its slot is released when it ends
    const ended = proxy.waitForLog((l) => l.msg === "request" && l.key_id === k.id && l.status === 499, "the held request's end");
    hold.abort();
    await held;
    await ended;
    expect((await chat({ authorization: `Bearer ${k.secret}` })).status).toBe(200);
  });
});
