// The proxy engine's benchmark: the same load against the fake backend directly and
// through the proxy, in one run, on this machine. Usage:
//
//   bun scripts/bench-proxy.ts [--bin dist/llmproxy] [--duration 5s] [--json]
//                              [--backends 4 --strategy least_inflight]
//                              [--keys 10000]   (auth: keys, limits on, N keys in the store)
//                              [--no-webhook]   (usage records still go to the database)
//
// Metering is on as in production: usage records are written to a database file, and
// (unless --no-webhook) sent to a webhook receiver running in this process.
//
// Phases: (1) throughput, closed loop at fixed concurrency; (2) latency at a fixed
// offered rate (open loop, 2000 req/s); (3) TTFT and inter-chunk gaps over 64
// concurrent streams; (4) proxy CPU time per plain request and RSS, idle and with 1000
// open streams. The proxy and the backend are separate processes, as in production.

import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openStore } from "../src/store/store.ts";
import { closedLoop, openLoop, streams, type Target } from "../src/bench/load.ts";
import { cpuSeconds, peakRssBytes, rssBytes } from "../src/bench/proc.ts";
import { startMock, startProxy } from "../src/bench/processes.ts";
import { ensureFetchCap } from "../src/cli/fetch-cap.ts";
import { durationFlag } from "../src/cli/flags.ts";

ensureFetchCap(); // the load generator itself opens 1000 streams at once

const args = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const json = args.includes("--json");
const durationMs = durationFlag("--duration", flag("--duration") ?? "5s");
const bin = flag("--bin") ?? (existsSync("dist/llmproxy") ? "dist/llmproxy" : null);
const backendCount = Number(flag("--backends") ?? "1");
const strategy = flag("--strategy") ?? "round_robin";
if (!Number.isInteger(backendCount) || backendCount < 1 || backendCount > 16) throw new Error(`--backends must be 1..16, got ${flag("--backends")}`);
const keyCount = Number(flag("--keys") ?? "0");
if (!Number.isInteger(keyCount) || keyCount < 0 || keyCount > 1_000_000) throw new Error(`--keys must be 0..1000000, got ${flag("--keys")}`);

/** With --keys: a database holding that many keys, and the secret of one for the load. */
function makeKeys(n: number): { database: string; secret: string } {
  const database = join(mkdtempSync(join(tmpdir(), "llmproxy-bench-keys-")), "keys.db");
  const store = openStore(database);
  let secret = "";
  store.db.transaction(() => {
    for (let i = 0; i < n; i++) {
      const issued = store.keys.create({ name: `bench-${i}`, models: ["*"], limits: { rpm: 10_000_000, tpm: 1_000_000_000, concurrency: 100_000 } });
      if (i === n - 1) secret = issued.secret;
    }
  });
  store.close();
  return { database, secret };
}
const command = bin ? [bin] : [process.execPath, "cmd/llmproxy.ts"];

const CHAT = JSON.stringify({ model: "bench", messages: [{ role: "user", content: "Say hello in one short sentence." }], max_tokens: 16 });
const STREAM = JSON.stringify({ model: "bench", messages: [{ role: "user", content: "Count to twenty." }], stream: true });
const log = (s: string) => {
  if (!json) process.stderr.write(s + "\n");
};

const keys = keyCount > 0 ? makeKeys(keyCount) : null;
const webhook = args.includes("--no-webhook")
  ? null
  : Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      async fetch(req) {
        await req.arrayBuffer();
        return new Response("ok");
      },
    });
const database = keys ? keys.database : join(mkdtempSync(join(tmpdir(), "llmproxy-bench-db-")), "usage.db");
const authConfig = `${keys ? "auth: keys\nlimits:\n  global: { rpm: 100000000, tpm: 10000000000, concurrency: 100000 }\n" : "auth: none\n"}database: ${database}
metering:
  flush_interval: 1s
${webhook ? `  webhook: { url: "http://127.0.0.1:${webhook.port}/usage", secret: "bench-secret-0123456789", batch: 500 }\n` : ""}`;
// Several backends: the proxy balances over all of them; "direct" is the first one.
const mocks = await Promise.all(Array.from({ length: backendCount }, () => startMock(command, ["--tokens", "16", "--delay", "0"])));
const mock = mocks[0]!;
const proxy = await startProxy(
  command,
  `${authConfig}backends:
${mocks.map((m, i) => `  - { name: mock${i}, provider: openai, url: ${m.url} }`).join("\n")}
models:
  - { name: "*", strategy: ${strategy}, targets: [${mocks.map((_, i) => `{ backend: mock${i} }`).join(", ")}] }
retries: { attempts: 0 }
log: { level: info, access: true }
`,
);
const direct: Target = { url: mock.url, headers: {} };
const through: Target = { url: proxy.url, headers: keys ? { authorization: `Bearer ${keys.secret}` } : {} };
const path = "/v1/chat/completions";

try {
  log(
    `proxy ${command.join(" ")} (pid ${proxy.pid}), ${backendCount} backend(s) (${strategy})${keys ? `, ${keyCount} keys, limits on` : ""}, usage records to ${database}${webhook ? " and a webhook" : ""}; ${durationMs / 1000}s per phase`,
  );
  const rssIdle = rssBytes(proxy.pid); // started, no traffic yet
  // warm both paths (JIT, connection pools)
  for (const t of [direct, through]) await closedLoop(t, path, CHAT, { concurrency: 16, durationMs: 1000, maxRequests: 20_000 });
  const rssWarm = rssBytes(proxy.pid);

  log("1/4 throughput, closed loop, 64 connections");
  const tpDirect = await closedLoop(direct, path, CHAT, { concurrency: 64, durationMs, maxRequests: 2_000_000 });
  const cpu0 = cpuSeconds(proxy.pid);
  const tpProxy = await closedLoop(through, path, CHAT, { concurrency: 64, durationMs, maxRequests: 2_000_000 });
  const cpuPerRequestUs = ((cpuSeconds(proxy.pid) - cpu0) / tpProxy.requests) * 1e6;

  log("2/4 latency at 2000 req/s, open loop");
  const olDirect = await openLoop(direct, path, CHAT, { rps: 2000, durationMs });
  const olProxy = await openLoop(through, path, CHAT, { rps: 2000, durationMs });

  log("3/4 streams: 64 concurrent clients, 16 tokens 5 ms apart");
  const streamHeaders = { "x-mock-tokens": "16", "x-mock-delay-ms": "5" };
  // a stream lasts ~80 ms; each client runs streams back to back for the phase
  const rounds = Math.max(3, Math.round(durationMs / 100));
  const steady = { concurrency: 64, rounds, spreadMs: 100, headers: streamHeaders };
  const stDirect = await streams(direct, path, STREAM, steady);
  const stProxy = await streams(through, path, STREAM, steady);
  const burst = { concurrency: 64, rounds: 10, spreadMs: 0, headers: streamHeaders };
  const buDirect = await streams(direct, path, STREAM, burst);
  const buProxy = await streams(through, path, STREAM, burst);

  log("4/4 memory: 1000 open streams through the proxy");
  // RSS sampled while the 1000 streams are open (VmHWM would also count the
  // throughput phases above)
  let rssPeak = 0;
  const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, rssBytes(proxy.pid))), 20);
  const many = await streams(through, path, STREAM, { concurrency: 1000, rounds: 1, headers: { "x-mock-tokens": "40", "x-mock-delay-ms": "25" } });
  clearInterval(sampler);
  const rssHwm = peakRssBytes(proxy.pid);

  const ms = (v: number) => `${v.toFixed(3)} ms`;
  const result = {
    setup: { backends: backendCount, strategy, keys: keyCount, webhook: webhook !== null },
    throughput: { directRps: tpDirect.rps, proxyRps: tpProxy.rps, ratio: tpProxy.rps / tpDirect.rps, errors: tpDirect.errors + tpProxy.errors },
    latencyAt2000: {
      direct: olDirect.latencyMs,
      proxy: olProxy.latencyMs,
      addedP50Ms: olProxy.latencyMs.p50 - olDirect.latencyMs.p50,
      addedP99Ms: olProxy.latencyMs.p99 - olDirect.latencyMs.p99,
      errors: olDirect.errors + olProxy.errors,
    },
    streams64: {
      direct: { ttft: stDirect.ttftMs, gap: stDirect.gapMs },
      proxy: { ttft: stProxy.ttftMs, gap: stProxy.gapMs },
      addedTtftP50Ms: stProxy.ttftMs.p50 - stDirect.ttftMs.p50,
      addedTtftP99Ms: stProxy.ttftMs.p99 - stDirect.ttftMs.p99,
      errors: stDirect.errors + stProxy.errors,
    },
    streams64Burst: {
      direct: { ttft: buDirect.ttftMs },
      proxy: { ttft: buProxy.ttftMs },
      addedTtftP50Ms: buProxy.ttftMs.p50 - buDirect.ttftMs.p50,
      addedTtftP99Ms: buProxy.ttftMs.p99 - buDirect.ttftMs.p99,
      errors: buDirect.errors + buProxy.errors,
    },
    proxyCpuPerRequestUs: cpuPerRequestUs,
    rss: { idleMB: rssIdle / 1048576, afterWarmupMB: rssWarm / 1048576, peakWith1000StreamsMB: rssPeak / 1048576, highWaterMarkMB: rssHwm / 1048576 },
    streams1000: { completed: many.completed, errors: many.errors, ttftP99Ms: many.ttftMs.p99 },
  };
  if (json) {
    console.log(JSON.stringify(result, null, 2));
  } else {
    const rows: [string, string, string, string][] = [
      ["metric", "direct", "through proxy", "proxy cost"],
      ["requests/s (64 conns)", tpDirect.rps.toFixed(0), tpProxy.rps.toFixed(0), `${(result.throughput.ratio * 100).toFixed(1)}% of direct`],
      ["latency p50 @2000/s", ms(olDirect.latencyMs.p50), ms(olProxy.latencyMs.p50), `+${ms(result.latencyAt2000.addedP50Ms)}`],
      ["latency p99 @2000/s", ms(olDirect.latencyMs.p99), ms(olProxy.latencyMs.p99), `+${ms(result.latencyAt2000.addedP99Ms)}`],
      ["TTFT p50 (64 clients)", ms(stDirect.ttftMs.p50), ms(stProxy.ttftMs.p50), `+${ms(result.streams64.addedTtftP50Ms)}`],
      ["TTFT p99 (64 clients)", ms(stDirect.ttftMs.p99), ms(stProxy.ttftMs.p99), `+${ms(result.streams64.addedTtftP99Ms)}`],
      ["chunk gap p99", ms(stDirect.gapMs.p99), ms(stProxy.gapMs.p99), `+${ms(stProxy.gapMs.p99 - stDirect.gapMs.p99)}`],
      ["TTFT p50, 64 at once", ms(buDirect.ttftMs.p50), ms(buProxy.ttftMs.p50), `+${ms(result.streams64Burst.addedTtftP50Ms)}`],
      ["TTFT p99, 64 at once", ms(buDirect.ttftMs.p99), ms(buProxy.ttftMs.p99), `+${ms(result.streams64Burst.addedTtftP99Ms)}`],
      ["proxy CPU / request", "", `${cpuPerRequestUs.toFixed(1)} µs`, ""],
      ["proxy RSS idle", "", `${result.rss.idleMB.toFixed(1)} MB`, "started, no traffic"],
      ["proxy RSS after warm-up", "", `${result.rss.afterWarmupMB.toFixed(1)} MB`, ""],
      ["proxy RSS, 1000 streams", "", `${result.rss.peakWith1000StreamsMB.toFixed(1)} MB`, `${many.completed}/1000 complete`],
      ["proxy RSS high-water mark", "", `${result.rss.highWaterMarkMB.toFixed(1)} MB`, "over the whole run"],
    ];
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
    for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i]!)).join("  "));
    const errs = result.throughput.errors + result.latencyAt2000.errors + result.streams64.errors + result.streams64Burst.errors + many.errors;
    if (errs) console.log(`errors: ${errs}`);
  }
} finally {
  await proxy.stop();
  for (const m of mocks) await m.stop();
  webhook?.stop(true);
}
