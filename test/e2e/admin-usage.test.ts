// GET /admin/usage on the real daemon: the report of `llmproxy usage --json` over the
// query parameters, answered from the daemon's database while it runs, in the very same
// JSON as the CLI reading the same file; the key's live quota counters; and a 400 naming
// each bad parameter.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { startMockServer, type MockServer } from "../../src/mock/server.ts";
import { scrapeUntil } from "../helpers/prometheus.ts";
import { startProxy, type ProxyProcess } from "../helpers/proxy.ts";
import { llmproxyCommand } from "../helpers/spawn.ts";
import { tempDir } from "../helpers/temp-dir.ts";

const ADMIN = "admin-token-for-usage-api";
const dir = tempDir("admin-usage");
let mock: MockServer;
let proxy: ProxyProcess;
let key: { id: string; name: string; prefix: string; secret: string };
/** prompt + completion tokens the client was told, per answer. */
const answered: number[] = [];

type Json = Record<string, unknown> & {
  key: Record<string, unknown> | null;
  groups: (Record<string, unknown> & { group: string | null; requests: number; tokens: { total: number }; key?: Record<string, unknown> | null })[];
  total: { requests: number; errors: number; tokens: { total: number } };
};

function admin(path: string, token = ADMIN, method = "GET"): Promise<Response> {
  return fetch(`${proxy.url}${path}`, { method, headers: { authorization: `Bearer ${token}` } });
}

async function report(query: string): Promise<Json> {
  const res = await admin(`/admin/usage${query}`);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toBe("application/json");
  return (await res.json()) as Json;
}

async function cli(args: string[]): Promise<Json> {
  const proc = Bun.spawn(llmproxyCommand(["usage", "--db", join(dir, "usage.db"), "--json", ...args]), { cwd: dir, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  expect(stderr).toBe("");
  expect(code).toBe(0);
  return JSON.parse(stdout) as Json;
}

/** The report without the keys' quota counters (live in the daemon, written each second). */
function withoutCounters(r: Json): unknown {
  const strip = (k: Record<string, unknown> | null | undefined) => (k ? { ...k, used: undefined } : k);
  return JSON.parse(JSON.stringify({ ...r, key: strip(r.key), groups: r.groups.map((g) => ({ ...g, key: strip(g.key) })) }));
}

beforeAll(async () => {
  mock = await startMockServer({ tokens: 5, delayMs: 0 });
  proxy = await startProxy({
    dir,
    config: `auth: keys
database: usage.db
admin_token: ${ADMIN}
metering: { flush_interval: 50ms }
backends:
  - { name: vllm, provider: openai, url: ${mock.url}, circuit: { failures: 1000 } }
models:
  - { name: llama, targets: [{ backend: vllm }] }
  - { name: qwen, targets: [{ backend: vllm }] }
retries: { attempts: 0 }
`,
  });
  const created = await fetch(`${proxy.url}/admin/keys`, { method: "POST", headers: { authorization: `Bearer ${ADMIN}` }, body: JSON.stringify({ name: "reporting" }) });
  expect(created.status).toBe(201);
  key = (await created.json()) as typeof key;
  const chat = (model: string, headers: Record<string, string> = {}) =>
    fetch(`${proxy.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${key.secret}`, ...headers },
      body: JSON.stringify({ model, messages: [{ role: "user", content: "hello there" }] }),
    });
  for (const [model, tokens] of [["llama", 3], ["llama", 8], ["qwen", 5]] as const) {
    const res = await chat(model, { "x-mock-tokens": String(tokens) });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { usage: { prompt_tokens: number; completion_tokens: number } };
    answered.push(body.usage.prompt_tokens + body.usage.completion_tokens);
  }
  const failed = await chat("qwen", { "x-mock-status": "503" });
  expect(failed.status).toBe(503);
  await failed.arrayBuffer();
  // every record is in the table once the writer says so
  await scrapeUntil(proxy.url, (e) => e.sum("llmproxy_usage_records_written_total") >= 4, "4 usage records written");
}, 30_000);

afterAll(async () => {
  expect(await proxy.stop()).toBe(0);
  await mock.stop();
});

const ALL_TIME = "since=2020-01-01&until=2100-01-01";

describe("GET /admin/usage", () => {
  test("without parameters: by model over the last 24 hours", async () => {
    const r = await report("");
    expect(r.by).toBe("model");
    expect(Date.parse(r.until as string) - Date.parse(r.since as string)).toBe(24 * 3_600_000);
    expect(r.groups.map((g) => [g.group, g.requests])).toEqual([
      ["llama", 2],
      ["qwen", 2],
    ]);
    expect(r.total).toMatchObject({ requests: 4, errors: 1, tokens: { total: answered.reduce((a, b) => a + b, 0) } });
  });

  test("answers what `llmproxy usage --json` says of the same database, for every grouping and filter", async () => {
    for (const by of ["model", "key", "backend", "route", "day"]) {
      const api = await report(`?${ALL_TIME}&by=${by}`);
      expect(withoutCounters(api)).toEqual(withoutCounters(await cli(["--since", "2020-01-01", "--until", "2100-01-01", "--by", by])));
    }
    const api = await report(`?${ALL_TIME}&by=day&key=${key.id}&model=qwen`);
    expect(api.total.requests).toBe(2);
    expect(withoutCounters(api)).toEqual(withoutCounters(await cli(["--since", "2020-01-01", "--until", "2100-01-01", "--by", "day", "--key", key.id, "--model", "qwen"])));
  });

  test("?key=ID: the key's name, prefix and live quota counters head the report; never its secret", async () => {
    const res = await admin(`/admin/usage?key=${key.id}&by=key`);
    const text = await res.text();
    expect(text).not.toContain(key.secret);
    const r = JSON.parse(text) as Json;
    const spent = answered.reduce((a, b) => a + b, 0);
    expect(r.key).toEqual({ id: key.id, name: "reporting", prefix: key.prefix, status: "active", used: { total: spent, today: spent, thisMonth: spent } });
    expect(r.groups).toHaveLength(1);
    expect(r.groups[0]).toMatchObject({ group: key.id, key: r.key, requests: 4, tokens: { total: spent } });
  });
});

describe("bad parameters: 400 invalid_request naming each one", () => {
  const cases: [string, string, string][] = [
    ["?since=yesterday", "since", 'since: "yesterday" is not a duration or a date'],
    ["?until=2026-01-31T12:00:00", "until", 'until: "2026-01-31T12:00:00" has no time zone'],
    ["?by=colour", "by", 'by: unknown grouping "colour"; one of key, model, backend, route, day'],
    ["?colour=red", "colour", "colour: unknown parameter (parameters: since, until, by, key, model)"],
    ["?since=2026-02-01&until=2026-01-01", "since", "since: the period is empty"],
    ["?since=1h&since=2h", "since", "since: given 2 times"],
    ["?model=", "model", "model: empty"],
    ["?key=key_nosuchkeyatall", "key", 'key: no key with id "key_nosuchkeyatall" and no usage recorded for it'],
  ];
  for (const [query, param, message] of cases) {
    test(query, async () => {
      const res = await admin(`/admin/usage${query}`);
      expect(res.status).toBe(400);
      const { error } = (await res.json()) as { error: { code: string; message: string; param: string | null } };
      expect(error.code).toBe("invalid_request");
      expect(error.param).toBe(param);
      expect(error.message).toContain(message);
    });
  }

  test("every problem at once", async () => {
    const res = await admin("/admin/usage?since=soon&by=colour&x=1");
    const { error } = (await res.json()) as { error: { message: string } };
    for (const part of ["since:", "by:", "x:"]) expect(error.message).toContain(part);
  });

  test("no admin token: 401; another method: 405", async () => {
    expect((await admin("/admin/usage", "wrong")).status).toBe(401);
    expect((await admin("/admin/usage", ADMIN, "POST")).status).toBe(405);
  });
});

describe("GET /admin/usage runs where the records are written (the metering worker)", () => {
  test("an in-memory database reports this daemon's requests, the ones not yet flushed included", async () => {
    const p = await startProxy({
      dir: tempDir("admin-usage-memory"),
      config: `auth: keys
database: ":memory:"
admin_token: ${ADMIN}
metering: { flush_interval: 1h }
backends:
  - { name: m, provider: mock, mock: { tokens: 4, delay: 0ms } }
models:
  - { name: llama, targets: [{ backend: m }] }
`,
    });
    try {
      const created = await fetch(`${p.url}/admin/keys`, { method: "POST", headers: { authorization: `Bearer ${ADMIN}` }, body: JSON.stringify({ name: "memory" }) });
      const k = (await created.json()) as { secret: string };
      const ids: string[] = [];
      let tokens = 0;
      for (let i = 0; i < 3; i++) {
        const res = await fetch(`${p.url}/v1/chat/completions`, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${k.secret}` },
          body: JSON.stringify({ model: "llama", messages: [{ role: "user", content: "hi" }] }),
        });
        expect(res.status).toBe(200);
        const body = (await res.json()) as { usage: { total_tokens: number } };
        tokens += body.usage.total_tokens;
        ids.push(res.headers.get("x-request-id")!);
      }
      // each request's record is made when its access-log line is written
      for (const id of ids) await p.waitForLog((l) => l.msg === "request" && l.request_id === id, `the record of ${id}`);
      // a flush interval of an hour: only the report's own hand-over can have written them
      const res = await fetch(`${p.url}/admin/usage?${ALL_TIME}`, { headers: { authorization: `Bearer ${ADMIN}` } });
      expect(res.status).toBe(200);
      const r = (await res.json()) as Json;
      expect(r.total).toMatchObject({ requests: 3, errors: 0, tokens: { total: tokens } });
      expect(r.groups.map((g) => [g.group, g.requests])).toEqual([["llama", 3]]);
    } finally {
      expect(await p.stop()).toBe(0);
    }
  });
});
