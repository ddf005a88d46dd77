// `llmproxy usage` as a real process. First against a database the real daemon filled:
// a key made through POST /admin/keys, a known mix of requests (answers, a stream, a
// backend error, an unknown model, a client that left, an unknown key) to the mock
// backend, then SIGTERM so every record is written. Then against hand-inserted records,
// where every number of the table is known. Then every bad input: exit 1 and a message
// that names the flag. With LLMPROXY_BIN set, this runs against the compiled executable.

import { beforeAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { startMockServer } from "../../src/mock/server.ts";
import { openStore } from "../../src/store/store.ts";
import { UsageRecordStore, type UsageRow } from "../../src/store/usage-records.ts";
import { startProxy } from "../helpers/proxy.ts";
import { llmproxyCommand } from "../helpers/spawn.ts";
import { readEvents } from "../helpers/sse.ts";
import { tempDir } from "../helpers/temp-dir.ts";

const ADMIN = "admin-token-for-usage";
const dir = tempDir("cli-usage");

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function usage(args: string[]): Promise<Run> {
  const env = Object.fromEntries(Object.entries({ ...process.env, LLMPROXY_CONFIG: undefined }).filter((e): e is [string, string] => e[1] !== undefined));
  const proc = Bun.spawn(llmproxyCommand(["usage", ...args]), { cwd: dir, env, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}

async function ok(args: string[]): Promise<string> {
  const r = await usage(args);
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  return r.stdout;
}

interface Stats {
  requests: number;
  errors: number;
  abandoned: number;
  tokens: { prompt: number; completion: number; cached: number; total: number };
  estimated: number;
  latencyMs: { p50: number | null; p99: number | null };
  ttftMs: { p50: number | null; p99: number | null };
  first: string | null;
  last: string | null;
}
type KeyJson = { id: string; name: string; prefix: string; status: string; used: { total: number; today: number; thisMonth: number } } | null;
interface ReportJson {
  since: string;
  until: string;
  by: string;
  key: KeyJson | { id: string };
  model: string | null;
  groups: (Stats & { group: string | null; key?: KeyJson })[];
  total: Stats;
}

/** Nearest rank, computed here in JS as the oracle for the report's SQL. */
function nearestRank(values: number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.ceil((p / 100) * sorted.length) - 1]!;
}

/** What the report must say of these rows, computed the plain way. */
function expectedStats(rows: StoredRow[]): Stats {
  const sum = (f: (r: StoredRow) => number) => rows.reduce((a, r) => a + f(r), 0);
  const ttft = rows.map((r) => r.ttft_ms).filter((v): v is number => v !== null);
  const ts = rows.map((r) => r.ts);
  return {
    requests: rows.length,
    errors: rows.filter((r) => r.status !== 499 && (r.status >= 400 || r.error_code !== null)).length,
    abandoned: rows.filter((r) => r.status === 499).length,
    tokens: { prompt: sum((r) => r.prompt_tokens), completion: sum((r) => r.completion_tokens), cached: sum((r) => r.cached_tokens), total: sum((r) => r.prompt_tokens + r.completion_tokens) },
    estimated: rows.filter((r) => r.usage_source === "estimate").length,
    latencyMs: { p50: nearestRank(rows.map((r) => r.latency_ms), 50), p99: nearestRank(rows.map((r) => r.latency_ms), 99) },
    ttftMs: { p50: nearestRank(ttft, 50), p99: nearestRank(ttft, 99) },
    first: new Date(Math.min(...ts)).toISOString(),
    last: new Date(Math.max(...ts)).toISOString(),
  };
}

type StoredRow = Pick<UsageRow, "ts" | "key_id" | "model" | "backend" | "route" | "prompt_tokens" | "completion_tokens" | "cached_tokens" | "usage_source" | "status" | "error_code" | "latency_ms" | "ttft_ms">;

// ---- a database filled by the real daemon ---------------------------------------------

const liveDb = join(dir, "live", "usage.db");
let keyA: { id: string; name: string; prefix: string; secret: string };
let keyB: { id: string; name: string; prefix: string; secret: string };
/** Tokens per key as the clients saw them in the answers' usage. */
const clientTokens = new Map<string, number>();
let rows: StoredRow[];

beforeAll(async () => {
  const mock = await startMockServer({ tokens: 5, delayMs: 0 });
  mkdirSync(join(dir, "live"));
  const proxy = await startProxy({
    dir: join(dir, "live"),
    config: `auth: keys
database: usage.db
admin_token: ${ADMIN}
metering: { flush_interval: 100ms }
backends:
  - { name: vllm, provider: openai, url: ${mock.url}, circuit: { failures: 1000 } }
models:
  - { name: llama, targets: [{ backend: vllm }] }
  - { name: qwen, targets: [{ backend: vllm }] }
retries: { attempts: 0 }
`,
  });
  try {
    const createKey = async (name: string) => {
      const res = await fetch(`${proxy.url}/admin/keys`, { method: "POST", headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" }, body: JSON.stringify({ name }) });
      expect(res.status).toBe(201);
      return (await res.json()) as typeof keyA;
    };
    keyA = await createKey("team-a");
    keyB = await createKey("team-b");
    const chat = (secret: string, model: string, headers: Record<string, string> = {}, extra: Record<string, unknown> = {}, signal?: AbortSignal) =>
      fetch(`${proxy.url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${secret}`, ...headers },
        body: JSON.stringify({ model, messages: [{ role: "user", content: "count my tokens please" }], ...extra }),
        signal,
      });
    const seen = (id: string, body: unknown) => {
      const { usage } = body as { usage: { prompt_tokens: number; completion_tokens: number } };
      clientTokens.set(id, (clientTokens.get(id) ?? 0) + usage.prompt_tokens + usage.completion_tokens);
    };

    // team-a: 3 answers from llama (5, 7, 9 tokens), one qwen stream with its usage chunk,
    // a backend error, an unknown model, and a stream the client leaves
    for (const tokens of [5, 7, 9]) {
      const res = await chat(keyA.secret, "llama", { "x-mock-tokens": String(tokens) });
      expect(res.status).toBe(200);
      seen(keyA.id, await res.json());
    }
    const streamed = await chat(keyA.secret, "qwen", { "x-mock-tokens": "4" }, { stream: true, stream_options: { include_usage: true } });
    const events = (await streamed.text()).split("\n").filter((l) => l.startsWith("data: {"));
    seen(keyA.id, JSON.parse(events.at(-1)!.slice(6)));
    const failed = await chat(keyA.secret, "llama", { "x-mock-status": "500" });
    expect(failed.status).toBe(500);
    await failed.arrayBuffer();
    const unknown = await chat(keyA.secret, "nope");
    expect(unknown.status).toBe(404);
    await unknown.arrayBuffer();
    const ac = new AbortController();
    const leaving = await chat(keyA.secret, "llama", { "x-mock-tokens": "2000", "x-mock-delay-ms": "10", "x-request-id": "usage-client-gone" }, { stream: true }, ac.signal);
    const { reader } = await readEvents(leaving, 2);
    const line = proxy.accessLine("usage-client-gone");
    ac.abort();
    await reader.cancel().catch(() => {});
    expect((await line).status).toBe(499);
    // team-b: one answer; and one request with a key nobody issued (no key id recorded)
    const b = await chat(keyB.secret, "qwen", { "x-mock-tokens": "6" });
    expect(b.status).toBe(200);
    seen(keyB.id, await b.json());
    const stranger = await chat("sk-llmp-not-a-key-anyone-issued", "llama");
    expect(stranger.status).toBe(401);
    await stranger.arrayBuffer();
    await proxy.waitForRequests(9);
  } finally {
    // SIGTERM: the daemon writes every record before it exits
    expect(await proxy.stop()).toBe(0);
    await mock.stop();
  }
  const db = new Database(liveDb, { readonly: true });
  rows = db.query("SELECT * FROM usage_records").all() as StoredRow[];
  db.close();
}, 30_000);

describe("against the daemon's database", () => {
  test("the daemon left one record per request", () => {
    expect(rows.length).toBe(9);
  });

  test("--by key --json: each key's requests, errors, abandoned, tokens and percentiles; the unknown key is the null group", async () => {
    const r = JSON.parse(await ok(["--db", liveDb, "--by", "key", "--json"])) as ReportJson;
    expect(Object.keys(r)).toEqual(["since", "until", "by", "key", "model", "groups", "total"]);
    expect(r.by).toBe("key");
    expect(Date.parse(r.until) - Date.parse(r.since)).toBe(24 * 3_600_000);
    expect(r.groups.map((g) => g.group)).toEqual([keyA.id, keyB.id, null]);
    const a = r.groups[0]!;
    expect(a).toMatchObject({ requests: 7, errors: 2, abandoned: 1 });
    expect(a.key).toMatchObject({ id: keyA.id, name: "team-a", prefix: keyA.prefix, status: "active" });
    expect(r.groups[1]).toMatchObject({ requests: 1, errors: 0, abandoned: 0, key: { id: keyB.id, name: "team-b", prefix: keyB.prefix } });
    expect(r.groups[2]).toMatchObject({ group: null, key: null, requests: 1, errors: 1, tokens: { total: 0 } });
    // the tokens the clients were told (the abandoned stream was estimated on top for team-a)
    expect(r.groups[1]!.tokens.total).toBe(clientTokens.get(keyB.id)!);
    expect(a.tokens.total).toBeGreaterThan(clientTokens.get(keyA.id)!);
    expect(a.estimated).toBe(1);
    for (const g of r.groups) expect(g).toEqual({ group: g.group, key: g.key, ...expectedStats(rows.filter((row) => row.key_id === g.group)) });
    expect(r.total).toEqual(expectedStats(rows));
  });

  test("--by model, backend, route and day group the same records", async () => {
    for (const [by, of] of [
      ["model", (x: StoredRow) => x.model],
      ["backend", (x: StoredRow) => x.backend],
      ["route", (x: StoredRow) => x.route],
      ["day", (x: StoredRow) => new Date(x.ts).toISOString().slice(0, 10)],
    ] as const) {
      const r = JSON.parse(await ok(["--db", liveDb, "--by", by, "--json"])) as ReportJson;
      const values = [...new Set(rows.map(of))];
      expect(r.groups.map((g) => g.group).sort()).toEqual(values.sort());
      for (const g of r.groups) expect(g).toEqual({ group: g.group, ...expectedStats(rows.filter((x) => of(x) === g.group)) });
      expect(r.total).toEqual(expectedStats(rows));
    }
  });

  test("--key and --model filter; the key's details head the JSON", async () => {
    const r = JSON.parse(await ok(["--db", liveDb, "--key", keyA.id, "--model", "llama", "--json"])) as ReportJson;
    expect(r.key).toMatchObject({ id: keyA.id, name: "team-a", prefix: keyA.prefix });
    expect(r.model).toBe("llama");
    expect(r.groups.map((g) => g.group)).toEqual(["llama"]);
    expect(r.total).toEqual(expectedStats(rows.filter((x) => x.key_id === keyA.id && x.model === "llama")));
  });

  test("the table: names, key names and prefixes, totals; never a secret", async () => {
    const out = await ok(["--db", liveDb, "--by", "key"]);
    const lines = out.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^Usage by key, \d{4}-\d{2}-\d{2}T[\d:.]+Z to \d{4}-\d{2}-\d{2}T[\d:.]+Z$/);
    expect(lines[2]).toMatch(/^KEY +NAME +PREFIX +REQUESTS +ERRORS +ABANDONED +PROMPT +COMPLETION +CACHED +TOTAL TOKENS +ESTIMATED +P50 MS +P99 MS +TTFT P50 +TTFT P99$/);
    expect(lines[3]).toMatch(new RegExp(`^${keyA.id} +team-a +${keyA.prefix} +7 +2 +1 `));
    expect(lines[5]).toMatch(/^\(no key\) +- +- +1 +1 +0 /);
    expect(lines.at(-2)).toMatch(/^-+$/);
    expect(lines.at(-1)).toMatch(/^TOTAL +9 +3 +1 /);
    for (const secret of [keyA.secret, keyB.secret]) expect(out).not.toContain(secret);
    const json = await ok(["--db", liveDb, "--by", "key", "--json"]);
    for (const secret of [keyA.secret, keyB.secret]) expect(json).not.toContain(secret);
    expect(json).not.toContain('"hash"');
  });

  test("-c FILE reads database: from the config", async () => {
    const r = JSON.parse(await ok(["-c", join(dir, "live", "llmproxy.yaml"), "--json"])) as ReportJson;
    expect(r.total.requests).toBe(9);
  });
});

// ---- hand-inserted records: every number known ----------------------------------------

const handDb = join(dir, "hand.db");
const JAN = (day: number, h = 0, m = 0) => Date.UTC(2026, 0, day, h, m);

beforeAll(() => {
  const store = openStore(handDb);
  const records = new UsageRecordStore(store.db);
  let n = 0;
  const row = (over: Partial<UsageRow>): UsageRow => ({
    id: `hand-${++n}`,
    request_id: `hand-req-${n}`,
    ts: JAN(10, 12),
    key_id: null,
    endpoint: "/v1/chat/completions",
    model: "llama",
    route: "llama",
    backend: "vllm-a",
    upstream_model: "llama",
    stream: false,
    prompt_tokens: 0,
    completion_tokens: 0,
    cached_tokens: 0,
    cache_write_tokens: 0,
    usage_source: "backend",
    status: 200,
    error_code: null,
    latency_ms: 1,
    ttft_ms: null,
    retries: 0,
    bytes_in: 0,
    bytes_out: 0,
    client_ip: "127.0.0.1",
    traceparent: null,
    ...over,
  });
  const rows: UsageRow[] = [];
  // llama on Jan 10: 100 requests, latency 1..100 ms (+0.25), ttft 0.5..50, 1,000,000 + 2,000 tokens each
  for (let i = 1; i <= 100; i++) rows.push(row({ ts: JAN(10, 12, i % 60), latency_ms: i + 0.25, ttft_ms: i / 2, prompt_tokens: 1_000_000, completion_tokens: 2_000, cached_tokens: 500 }));
  // gpt on Jan 11: 3 requests, one error and one abandoned, one estimate
  rows.push(row({ ts: JAN(11, 8), model: "gpt", route: "gpt", backend: "openai", latency_ms: 250.06, prompt_tokens: 1_234, completion_tokens: 10 }));
  rows.push(row({ ts: JAN(11, 9), model: "gpt", route: "gpt", backend: "openai", latency_ms: 1_000, status: 502, error_code: "upstream_error" }));
  rows.push(row({ ts: JAN(11, 10), model: "gpt", route: "gpt", backend: "openai", latency_ms: 30.04, status: 499, error_code: "client_closed_request", prompt_tokens: 7, usage_source: "estimate" }));
  // outside the period: Dec 31 and Feb 1 (until is excluded)
  rows.push(row({ ts: Date.UTC(2025, 11, 31, 23, 59), prompt_tokens: 99 }));
  rows.push(row({ ts: Date.UTC(2026, 1, 1), prompt_tokens: 99 }));
  records.insert(rows, false, Date.now());
  store.close();
});

const PERIOD = ["--since", "2026-01-01", "--until", "2026-02-01"];

describe("against hand-inserted records", () => {
  test("the table: aligned columns, thousands separators, ms with one decimal, a totals line", async () => {
    const out = await ok(["--db", handDb, ...PERIOD]);
    const header = "MODEL  REQUESTS  ERRORS  ABANDONED       PROMPT  COMPLETION  CACHED  TOTAL TOKENS  ESTIMATED  P50 MS  P99 MS  TTFT P50  TTFT P99";
    expect(out).toBe(
      [
        "Usage by model, 2026-01-01T00:00:00Z to 2026-02-01T00:00:00Z",
        "",
        header,
        // p50 of 1.25..100.25 is the 50th value, 50.25; p99 the 99th
        "llama       100       0          0  100,000,000     200,000  50,000   100,200,000          0    50.3    99.3      25.0      49.5",
        "gpt           3       1          1        1,241          10       0         1,251          1   250.1  1000.0         -         -",
        "-".repeat(header.length),
        // over all 103: the 52nd value is 51.25 (30.04 of gpt comes before it), the 102nd 250.06
        "TOTAL       103       1          1  100,001,241     200,010  50,000   100,201,251          1    51.3   250.1      25.0      49.5",
        "",
      ].join("\n"),
    );
  });

  test("--by day: one line per UTC day, oldest first", async () => {
    const r = JSON.parse(await ok(["--db", handDb, ...PERIOD, "--by", "day", "--json"])) as ReportJson;
    expect(r.groups.map((g) => [g.group, g.requests, g.tokens.total])).toEqual([
      ["2026-01-10", 100, 100_200_000],
      ["2026-01-11", 3, 1_251],
    ]);
    expect(r.groups[1]).toMatchObject({ errors: 1, abandoned: 1, estimated: 1, latencyMs: { p50: 250.06, p99: 1000 }, ttftMs: { p50: null, p99: null }, first: "2026-01-11T08:00:00.000Z", last: "2026-01-11T10:00:00.000Z" });
  });

  test("--json: the period as given, the exact percentiles, the total over every record", async () => {
    const r = JSON.parse(await ok(["--db", handDb, ...PERIOD, "--json", "--by", "backend"])) as ReportJson;
    expect(r).toMatchObject({ since: "2026-01-01T00:00:00.000Z", until: "2026-02-01T00:00:00.000Z", by: "backend", key: null, model: null });
    expect(r.groups.map((g) => g.group)).toEqual(["vllm-a", "openai"]);
    expect(r.groups[0]!.latencyMs).toEqual({ p50: 50.25, p99: 99.25 });
    expect(r.total).toMatchObject({ requests: 103, latencyMs: { p50: 51.25, p99: 250.06 }, ttftMs: { p50: 25, p99: 49.5 } });
  });

  test("a period without records, and a fresh database the daemon never wrote, report nothing and exit 0", async () => {
    expect(await ok(["--db", handDb, "--since", "2020-01-01", "--until", "2020-02-01"])).toBe(
      `Usage by model, 2020-01-01T00:00:00Z to 2020-02-01T00:00:00Z\nno requests in this period (database: ${handDb})\n`,
    );
    const fresh = join(dir, "fresh", "new.db");
    const r = JSON.parse(await ok(["--db", fresh, "--json"])) as ReportJson;
    expect(r.groups).toEqual([]);
    expect(r.total).toMatchObject({ requests: 0, latencyMs: { p50: null, p99: null }, first: null });
  });
});

// ---- bad input ------------------------------------------------------------------------

describe("bad input: exit 1 and a message naming the flag; nothing printed on stdout", () => {
  const cases: [string, string[], string][] = [
    ["a bad duration", ["--since", "24hours"], '--since: "24hours" is not a duration or a date'],
    ["a date that does not exist", ["--since", "2026-02-30"], '--since: "2026-02-30" is not a duration or a date'],
    ["a time without a zone", ["--until", "2026-01-31T12:00:00"], '--until: "2026-01-31T12:00:00" has no time zone'],
    ["a zero duration", ["--since", "0s"], '--since: "0s" is no time at all'],
    ["an unknown grouping", ["--by", "colour"], '--by: unknown grouping "colour"; one of key, model, backend, route, day'],
    ["an empty period", ["--since", "2026-02-01", "--until", "2026-01-01"], "the period is empty: --since 2026-02-01 (2026-02-01T00:00:00Z) is not before --until 2026-01-01 (2026-01-01T00:00:00Z)"],
    ["a key id nobody has", ["--key", "key_nosuchkeyatall"], '--key: no key with id "key_nosuchkeyatall" and no usage recorded for it'],
    ["an empty key", ["--key", ""], "--key needs a key id"],
    ["--db :memory:", ["--db", ":memory:"], "--db :memory: holds no usage"],
  ];
  for (const [what, args, message] of cases) {
    test(what, async () => {
      const r = await usage([...(args.includes("--db") ? [] : ["--db", handDb]), ...args]);
      expect(r.stdout).toBe("");
      expect(r.stderr).toStartWith(`llmproxy: ${message}`);
      expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
      expect(r.code).toBe(1);
    });
  }

  test("a bad flag value is refused before the database is opened (no file is created)", async () => {
    const never = join(dir, "never", "created.db");
    const r = await usage(["--db", never, "--by", "colour"]);
    expect(r.code).toBe(1);
    expect(await Bun.file(never).exists()).toBe(false);
  });

  test("an unknown option or a config that cannot be read: exit 2", async () => {
    const unknown = await usage(["--db", handDb, "--colour", "red"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown option '--colour'");
    const missing = await usage(["-c", join(dir, "no-such.yaml")]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("no-such.yaml");
  });
});
