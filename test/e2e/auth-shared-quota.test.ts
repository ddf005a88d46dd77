// Two daemons on one database (two instances on one host): a key's token quota is
// shared. Each daemon's debits are written by its metering worker; the other daemon
// re-reads only the key they changed and refuses once the quota is used up; a daemon
// never re-reads a key for its own debits (its ledger counts them already).

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { startMockServer, type MockServer } from "../../src/mock/server.ts";
import { adminCreateKey, keysConfig } from "../helpers/admin.ts";
import { startProxy, type ProxyProcess } from "../helpers/proxy.ts";
import { tempDir } from "../helpers/temp-dir.ts";

const ADMIN = "admin-token-for-tests";
let mock: MockServer;
let a: ProxyProcess;
let b: ProxyProcess;

function chat(p: ProxyProcess, secret: string): Promise<Response> {
  return fetch(`${p.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${secret}` },
    body: JSON.stringify({ model: "llama", messages: [{ role: "user", content: "hi" }] }),
  });
}

beforeAll(async () => {
  mock = await startMockServer({ tokens: 20, delayMs: 0 });
  const dir = tempDir("shared-quota");
  a = await startProxy({ config: keysConfig(mock.url, ADMIN), dir });
  b = await startProxy({ config: keysConfig(mock.url, ADMIN), dir });
  expect(a.configPath).toBe(join(dir, "llmproxy.yaml"));
});

afterAll(async () => {
  expect(await a.stop()).toBe(0);
  expect(await b.stop()).toBe(0);
  await mock.stop();
});

describe("one key, two daemons, one quota", () => {
  test("what one daemon debits, the other sees within its polls and refuses past the quota; neither re-reads a key for its own debits", async () => {
    const key = await adminCreateKey(a.url, ADMIN, { name: "shared", quota: { total: 60 } });
    // b learns of the key from the database (created by a)
    await b.waitForLog((l) => l.msg === "keys refreshed" && l.trigger === "database changed", "b reading the new key");
    const refreshesOfA = () => a.logs.filter((l) => l.msg === "keys refreshed" && l.trigger === "database changed").length;
    const aBefore = refreshesOfA();

    // through a: each answer is well over 20 tokens, so 3 use the quota up
    for (let i = 0; i < 3; i++) expect((await chat(a, key.secret)).status).toBe(200);
    const refused = await chat(a, key.secret);
    expect(refused.status).toBe(429);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("insufficient_quota");

    // a's worker writes the debits within a second; b re-reads that key alone
    const seen = await b.nextLog((l) => l.msg === "keys refreshed" && l.trigger === "database changed", "b reading a's debits");
    expect(seen.keys).toBe(1);
    const fromB = await chat(b, key.secret);
    expect(fromB.status).toBe(429);
    expect(((await fromB.json()) as { error: { code: string } }).error.code).toBe("insufficient_quota");
    // a change by b (a new key) makes a read past its own debits' entries: only that key
    // is read, not the debited one
    expect(refreshesOfA()).toBe(aBefore);
    const next = a.nextLog((l) => l.msg === "keys refreshed" && l.trigger === "database changed", "a reading b's new key");
    await adminCreateKey(b.url, ADMIN, { name: "another" });
    expect((await next).keys).toBe(1);
  });
});
