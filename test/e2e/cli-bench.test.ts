// `llmproxy bench` as a real process: the local benchmark (it starts llmproxy mock and
// llmproxy serve itself) with small phases, in JSON and as a table; --target against a
// proxy this test starts, and over https; every way it must refuse (a closed port, a
// wrong key, an unknown model, bad flag values); and Ctrl-C while it starts its processes. No timing is asserted: the numbers
// must be there and well-formed, not fast. With LLMPROXY_BIN set, this runs the compiled
// executable (whose bench starts its children from the same executable).

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createMockBackend } from "../../src/mock/handler.ts";
import { resolveMockOptions } from "../../src/mock/options.ts";
import { startMockServer, type MockServer } from "../../src/mock/server.ts";
import { type ProxyProcess, startProxy } from "../helpers/proxy.ts";
import { holdRefusingPorts, type RefusingPorts } from "../helpers/refusing-ports.ts";
import { llmproxyCommand } from "../helpers/spawn.ts";
import { tempDir } from "../helpers/temp-dir.ts";

const dir = tempDir("cli-bench");
/** Small phases: a whole run takes a few seconds. */
const SMALL = ["--duration", "200ms", "--concurrency", "8", "--rate", "200", "--streams", "8", "--open-streams", "200"];
/** A bound for a whole run, not a timing assertion. */
const RUN_MS = 60_000;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function bench(args: string[]): Promise<Run> {
  const proc = Bun.spawn(llmproxyCommand(["bench", ...args]), { cwd: dir, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

type Num = number | null;
interface Streams {
  ttftP50Ms: Num;
  ttftP99Ms: Num;
  gapP99Ms: Num;
  streams: number;
  completed: number;
  errors: number;
}
interface Result {
  setup: { mode: string; proxyUrl: string; directUrl: string | null; pid: number | null; executable: string | null; durationMs: number; webhook: boolean | null };
  throughput: { concurrency: number; direct: { rps: Num; requests: number; errors: number } | null; proxy: { rps: Num; requests: number; errors: number }; ratio: Num };
  latency: { rate: number; direct: { p50Ms: Num; p99Ms: Num; requests: number; errors: number } | null; proxy: { p50Ms: Num; p99Ms: Num; requests: number; errors: number }; addedP50Ms: Num; addedP99Ms: Num };
  streams: { clients: number; direct: Streams | null; proxy: Streams; addedTtftP50Ms: Num; addedTtftP99Ms: Num; addedGapP99Ms: Num };
  burst: { clients: number; direct: Streams | null; proxy: Streams; addedTtftP50Ms: Num; addedTtftP99Ms: Num };
  openStreams: { streams: number; direct: { completed: number; errors: number; ttftP99Ms: Num } | null; proxy: { completed: number; errors: number; ttftP99Ms: Num }; ttftP99Ratio: Num };
  resources: { cpuPerRequestUs: Num; rssMB: { idle: Num; afterWarmup: Num; openStreams: Num; peak: Num } } | null;
  errors: number;
}

/** A positive, finite number (a time, a rate, a size). */
function positive(v: unknown): void {
  expect(typeof v).toBe("number");
  expect(Number.isFinite(v as number)).toBe(true);
  expect(v as number).toBeGreaterThan(0);
}
/** A finite number of either sign (a difference). */
function finite(v: unknown): void {
  expect(typeof v).toBe("number");
  expect(Number.isFinite(v as number)).toBe(true);
}

function checkStreams(s: Streams | null): void {
  expect(s).not.toBeNull();
  const x = s as Streams;
  for (const v of [x.ttftP50Ms, x.ttftP99Ms, x.gapP99Ms, x.streams, x.completed]) positive(v);
  expect(x.completed).toBe(x.streams);
  expect(x.errors).toBe(0);
}

/** Every field of a run with a direct side, all numbers there and sane, every request answered. */
function checkWellFormed(r: Result, sizes: { concurrency: number; rate: number; streams: number; openStreams: number }): void {
  expect(r.errors).toBe(0);
  expect(r.throughput.concurrency).toBe(sizes.concurrency);
  for (const side of [r.throughput.direct, r.throughput.proxy]) {
    positive(side?.rps);
    positive(side?.requests);
    expect(side?.errors).toBe(0);
  }
  positive(r.throughput.ratio);

  expect(r.latency.rate).toBe(sizes.rate);
  for (const side of [r.latency.direct, r.latency.proxy]) {
    positive(side?.p50Ms);
    positive(side?.p99Ms);
    expect(side!.p99Ms!).toBeGreaterThanOrEqual(side!.p50Ms!);
    positive(side?.requests);
  }
  finite(r.latency.addedP50Ms);
  finite(r.latency.addedP99Ms);

  expect(r.streams.clients).toBe(sizes.streams);
  expect(r.burst.clients).toBe(sizes.streams);
  for (const s of [r.streams.direct, r.streams.proxy, r.burst.direct, r.burst.proxy]) checkStreams(s);
  for (const v of [r.streams.addedTtftP50Ms, r.streams.addedTtftP99Ms, r.streams.addedGapP99Ms, r.burst.addedTtftP50Ms, r.burst.addedTtftP99Ms]) finite(v);

  expect(r.openStreams.streams).toBe(sizes.openStreams);
  for (const side of [r.openStreams.direct, r.openStreams.proxy]) {
    expect(side?.completed).toBe(sizes.openStreams);
    expect(side?.errors).toBe(0);
    positive(side?.ttftP99Ms);
  }
  positive(r.openStreams.ttftP99Ratio);
}

function checkResources(r: Result): void {
  expect(r.resources).not.toBeNull();
  const res = r.resources!;
  positive(res.cpuPerRequestUs);
  for (const v of Object.values(res.rssMB)) positive(v);
  // the high-water mark is at least what was read while the streams were open
  expect(res.rssMB.peak!).toBeGreaterThanOrEqual(res.rssMB.openStreams!);
}

describe("llmproxy bench, local: it starts the fake backend and the proxy itself", () => {
  test(
    "--json: one object with both sides of every phase, every request answered, the children gone afterwards",
    async () => {
      const r = await bench([...SMALL, "--json"]);
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      const result = JSON.parse(r.stdout) as Result;
      expect(result.setup).toMatchObject({ mode: "local", durationMs: 200, webhook: true });
      expect(result.setup.directUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(result.setup.proxyUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      // the children run the same llmproxy as bench (the Node bundle: under bench's own node)
      const self = llmproxyCommand([]);
      const argv = result.setup.executable!.split(" ");
      expect(argv.slice(-self.length)).toEqual(self);
      checkWellFormed(result, { concurrency: 8, rate: 200, streams: 8, openStreams: 200 });
      checkResources(result);
      // stopped before bench exited
      expect(alive(result.setup.pid!)).toBe(false);
    },
    RUN_MS,
  );

  test(
    "the table: a heading, every row with both columns and the proxy's cost, nothing on stderr without a terminal",
    async () => {
      const r = await bench([...SMALL, "--no-webhook", "--backends", "2", "--strategy", "least_inflight"]);
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      const lines = r.stdout.trimEnd().split("\n");
      expect(lines[0]).toMatch(/^llmproxy bench: llmproxy serve \(pid \d+\) in front of 2 llmproxy mocks \(least_inflight; direct = the first\); usage records to SQLite \(no webhook\); 0\.2 s per phase$/);
      expect(lines[2]).toMatch(/^metric +direct +through proxy +proxy cost$/);
      const ms = String.raw`-?\d+\.\d{3} ms`;
      const rows = [
        String.raw`requests/s, 8 connections \(closed loop\) +\d+ +\d+ +\d+\.\d% of direct`,
        `latency p50 at 200 req/s \\(open loop\\) +${ms} +${ms} +[+-]${ms}`,
        `latency p99 at 200 req/s \\(open loop\\) +${ms} +${ms} +[+-]${ms}`,
        `TTFT p50, 8 stream clients +${ms} +${ms} +[+-]${ms}`,
        `TTFT p99, 8 stream clients +${ms} +${ms} +[+-]${ms}`,
        `inter-chunk gap p99 \\(tokens 5 ms apart\\) +${ms} +${ms} +[+-]${ms}`,
        `TTFT p50, 8 streams started at once +${ms} +${ms} +[+-]${ms}`,
        `TTFT p99, 8 streams started at once +${ms} +${ms} +[+-]${ms}`,
        String.raw`200 open streams: completed +200/200 +200/200`,
        `TTFT p99, 200 open streams +${ms} +${ms} +\\d+\\.\\d\\d× direct`,
        String.raw`proxy CPU per plain request +\d+\.\d µs +user \+ system, all threads`,
        String.raw`proxy RSS idle +\d+\.\d MB +started, no traffic`,
        String.raw`proxy RSS after warm-up +\d+\.\d MB`,
        String.raw`proxy RSS with 200 open streams +\d+\.\d MB +highest while open`,
        String.raw`proxy RSS peak +\d+\.\d MB +high-water mark over the run`,
      ];
      expect(lines.slice(3)).toHaveLength(rows.length);
      rows.forEach((row, i) => expect(lines[3 + i]).toMatch(new RegExp(`^${row}$`)));
    },
    RUN_MS,
  );
});

describe("llmproxy bench --target: an existing deployment", () => {
  const ADMIN = "admin-token-for-bench";
  let mock: MockServer;
  let proxy: ProxyProcess;
  let secret: string;
  let refusing: RefusingPorts;

  beforeAll(async () => {
    [mock, refusing] = await Promise.all([startMockServer({ tokens: 16, delayMs: 0 }), holdRefusingPorts(1)]);
    mkdirSync(join(dir, "target"));
    proxy = await startProxy({
      dir: join(dir, "target"),
      config: `auth: keys
database: target.db
admin_token: ${ADMIN}
log: { access: false }
backends:
  - { name: mock, provider: openai, url: ${mock.url} }
models:
  - { name: "*", targets: [{ backend: mock }] }
`,
    });
    const res = await fetch(`${proxy.url}/admin/keys`, {
      method: "POST",
      headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "bench" }),
    });
    expect(res.status).toBe(201);
    secret = ((await res.json()) as { secret: string }).secret;
  });

  afterAll(async () => {
    await proxy?.stop();
    await mock?.stop();
    await refusing?.stop();
  });

  test(
    "with --key, --direct and --pid: the same results as a local run, the key never printed",
    async () => {
      const r = await bench([...SMALL, "--json", "--target", proxy.url, "--key", secret, "--model", "llama", "--direct", mock.url, "--pid", String(proxy.proc.pid)]);
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expect(r.stdout).not.toContain(secret);
      const result = JSON.parse(r.stdout) as Result;
      expect(result.setup).toMatchObject({ mode: "target", proxyUrl: proxy.url, directUrl: mock.url, pid: proxy.proc.pid, executable: null, webhook: null });
      checkWellFormed(result, { concurrency: 8, rate: 200, streams: 8, openStreams: 200 });
      checkResources(result);
      // the target was measured, not started: it still runs
      expect(alive(proxy.proc.pid)).toBe(true);
    },
    RUN_MS,
  );

  test(
    "without --direct and --pid: no direct column and no CPU or memory rows, and the table says so",
    async () => {
      const r = await bench([...SMALL, "--target", `${proxy.url}/v1`, "--key", secret]);
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expect(r.stdout).not.toContain(secret);
      const lines = r.stdout.trimEnd().split("\n");
      expect(lines[0]).toBe(`llmproxy bench: target ${proxy.url}/v1 (model bench, with a key); 0.2 s per phase`);
      expect(lines[2]).toMatch(/^metric +direct +target +proxy cost$/);
      expect(lines[3]).toMatch(/^requests\/s, 8 connections \(closed loop\) +- +\d+$/);
      expect(lines).toContain("No direct column: pass --direct URL (the backend behind the target) to measure it too.");
      expect(lines).toContain("No CPU or memory figures: pass --pid PID (the target's process, on this machine) to read them.");
      expect(r.stdout).not.toContain("proxy RSS");
    },
    RUN_MS,
  );

  test("a closed port: exit 1 at once, one line naming the URL and the cause", async () => {
    const url = refusing.urls[0]!;
    const r = await bench(["--target", url, "--json"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe(`llmproxy: --target ${url}: cannot reach it: connection refused (nothing listens there)\n`);
  });

  test("a wrong key: exit 1 with the target's status and error message, the key not repeated", async () => {
    const wrong = "sk-llmp-not-a-key-of-this-proxy-0123456789";
    const r = await bench(["--target", proxy.url, "--key", wrong]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe(`llmproxy: --target ${proxy.url}: the first request was answered 401: The API key is not valid. (invalid_api_key)\n`);
  });

  test("a target that echoes the key back in its error: the key is redacted", async () => {
    const key = "sk-proj-echoed-back-by-the-target";
    const server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: (req) =>
        Response.json({ error: { message: `Incorrect API key provided: ${req.headers.get("authorization")?.slice(7)}.`, code: "invalid_api_key" } }, { status: 401 }),
    });
    try {
      const r = await bench(["--target", `http://127.0.0.1:${server.port}`, "--key", key]);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(`llmproxy: --target http://127.0.0.1:${server.port}: the first request was answered 401: Incorrect API key provided: [redacted]. (invalid_api_key)\n`);
    } finally {
      await server.stop(true);
    }
  });

  test("an unknown model: exit 1 with the target's 404", async () => {
    const noRoute = await startProxy({ config: `backends:\n  - { name: mock, provider: openai, url: ${mock.url} }\nmodels:\n  - { name: llama, targets: [{ backend: mock }] }\n` });
    try {
      const r = await bench(["--target", noRoute.url, "--model", "gpt-nope"]);
      expect(r.code).toBe(1);
      expect(r.stderr).toStartWith(`llmproxy: --target ${noRoute.url}: the first request was answered 404: `);
      expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
    } finally {
      await noRoute.stop();
    }
  });
});

describe("llmproxy bench --target https://...", () => {
  test(
    "TLS: the same phases over https (a CA made here, trusted through NODE_EXTRA_CA_CERTS)",
    async () => {
      const tls = join(dir, "tls");
      mkdirSync(tls);
      const openssl = async (args: string[]) => {
        const p = Bun.spawn(["openssl", ...args], { cwd: tls, stdout: "ignore", stderr: "pipe" });
        if ((await p.exited) !== 0) throw new Error(`openssl ${args[0]}: ${await new Response(p.stderr).text()}`);
      };
      await openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "1", "-subj", "/CN=llmproxy bench test CA"]);
      await openssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"]);
      writeFileSync(join(tls, "san.ext"), "subjectAltName=IP:127.0.0.1\n");
      await openssl(["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.pem", "-days", "1", "-extfile", "san.ext"]);
      const backend = createMockBackend(resolveMockOptions({ tokens: 16, delayMs: 0 }), { silentDrops: true });
      const server = Bun.serve({
        hostname: "127.0.0.1",
        port: 0,
        tls: { cert: Bun.file(join(tls, "server.pem")), key: Bun.file(join(tls, "server.key")) },
        fetch: (req) => backend.fetch(req),
      });
      try {
        const url = `https://127.0.0.1:${server.port}`;
        const args = ["bench", ...SMALL, "--json", "--target", url, "--direct", url];
        const proc = Bun.spawn(llmproxyCommand(args), { cwd: dir, env: { ...process.env, NODE_EXTRA_CA_CERTS: join(tls, "ca.pem") }, stdout: "pipe", stderr: "pipe" });
        const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
        expect(stderr).toBe("");
        expect(code).toBe(0);
        checkWellFormed(JSON.parse(stdout) as Result, { concurrency: 8, rate: 200, streams: 8, openStreams: 200 });
      } finally {
        await server.stop(true);
      }
    },
    RUN_MS,
  );
});

describe("llmproxy bench refuses bad command lines before starting anything", () => {
  test("a value that does not parse or is out of range: exit 1, the flag named", async () => {
    const cases: [string[], string][] = [
      [["--duration", "nope"], `llmproxy: --duration: bad duration "nope": use a number and a unit (ms, s, m, h, d), e.g. 500ms or 5s\n`],
      [["--concurrency", "0"], `llmproxy: --concurrency must be 1..10000, got "0"\n`],
      [["--open-streams", "lots"], `llmproxy: --open-streams must be a whole number >= 0, got "lots"\n`],
      [["--target", "localhost:8080"], `llmproxy: --target: "localhost:8080" is not an http(s) URL\n`],
      [["--target", "http://127.0.0.1:9", "--pid", "4000000"], "llmproxy: --pid 4000000: no such process on this machine (or /proc cannot be read)\n"],
    ];
    const runs = await Promise.all(cases.map(([args]) => bench(args)));
    runs.forEach((r, i) => {
      expect(r.stderr).toBe(cases[i]![1]);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe("");
    });
  });

  test("a flag of the other mode, or a --bin that is not executable: exit 2", async () => {
    const cases: [string[], string][] = [
      [["--target", "http://127.0.0.1:9", "--backends", "2"], "llmproxy: --backends applies when bench starts its own proxy; with --target nothing is started\n"],
      [["--key", "sk-secret-in-a-wrong-place"], "llmproxy: --key needs --target URL (without it, bench starts its own proxy and backend)\n"],
      [["--bin", join(dir, "no-such-llmproxy")], `llmproxy: --bin: ${join(dir, "no-such-llmproxy")} is not an executable file\n`],
    ];
    const runs = await Promise.all(cases.map(([args]) => bench(args)));
    runs.forEach((r, i) => {
      expect(r.stderr).toBe(cases[i]![1]);
      expect(r.code).toBe(2);
    });
  });
});

describe("llmproxy bench and Ctrl-C", () => {
  test(
    "SIGINT while it starts its processes: exit 1, and every process it started is gone",
    async () => {
      const w = await witnessedBin();
      try {
        const proc = Bun.spawn(llmproxyCommand(["bench", ...SMALL, "--bin", w.bin]), { cwd: dir, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
        await w.bothStarted;
        proc.kill("SIGINT");
        const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
        expect(stderr).toBe("llmproxy: interrupted by SIGINT; the processes bench started are stopped\n");
        expect(code).toBe(1);
        expect(stdout).toBe("");
        expect(w.started.map((s) => s.command).sort()).toEqual(["mock", "serve"]);
        for (const s of w.started) expect(alive(s.pid)).toBe(false);
      } finally {
        await w.stop();
      }
    },
    RUN_MS,
  );

  test(
    "SIGKILL, which bench cannot handle: the processes it started see their stdin close and stop by themselves",
    async () => {
      const w = await witnessedBin();
      try {
        const proc = Bun.spawn(llmproxyCommand(["bench", "--duration", "30s", "--bin", w.bin]), { cwd: dir, stdin: "ignore", stdout: "ignore", stderr: "ignore" });
        await w.bothStarted;
        proc.kill("SIGKILL");
        expect(await proc.exited).toBe(137);
        expect(w.started.map((s) => s.command).sort()).toEqual(["mock", "serve"]);
        // each stops as on SIGTERM; waited for, at most 20 s
        for (let i = 0; i < 400 && w.started.some((s) => alive(s.pid)); i++) await Bun.sleep(50);
        expect(w.started.filter((s) => alive(s.pid))).toEqual([]);
      } finally {
        await w.stop();
      }
    },
    RUN_MS,
  );
});

/**
 * A --bin for bench that tells the test each process bench starts (its pid and command),
 * then becomes llmproxy (exec keeps the pid): tests wait for that event, not for a time.
 */
async function witnessedBin(): Promise<{ bin: string; started: { pid: number; command: string }[]; bothStarted: Promise<void>; stop(): Promise<void> }> {
  const started: { pid: number; command: string }[] = [];
  let both: () => void = () => {};
  const bothStarted = new Promise<void>((r) => (both = r));
  const witness = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const [pid, command] = (await req.text()).split(" ");
      started.push({ pid: Number(pid), command: command! });
      if (["mock", "serve"].every((c) => started.some((s) => s.command === c))) both();
      return new Response("ok");
    },
  });
  const bin = join(dir, `llmproxy-witness-${witness.port}.sh`);
  const real = llmproxyCommand([]).map((a) => `'${a}'`).join(" ");
  // curl reads no stdin (--data has its value): the pipe bench holds stays llmproxy's
  writeFileSync(bin, `#!/bin/sh\ncurl -s -o /dev/null --data "$$ $1" http://127.0.0.1:${witness.port}/\nexec ${real} "$@"\n`);
  chmodSync(bin, 0o755);
  return { bin, started, bothStarted, stop: () => witness.stop(true) };
}
