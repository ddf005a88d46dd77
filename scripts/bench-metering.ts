// CPU cost of metering per usage record, on each thread: the daemon's own metering
// (src/daemon/metering.ts: the usage writer on this thread, the metering worker on its
// own) takes N realistic usage results and writes them to an SQLite file in a temp dir,
// as under load. No sockets and no proxy: the numbers are metering alone.
//
//   bun scripts/bench-metering.ts [--records 50000] [--rounds 3] [--webhook]
//
// --webhook configures a webhook (a receiver on 127.0.0.1 that answers 204), so each
// record also goes through the outbox, a POST and its deletion.
//
// Per round it prints CPU µs per record, read from /proc/self/task/<tid>/schedstat
// (Linux only): "event loop" is this thread from the first record to the last write
// (the "writer" part of it is the record() calls: values, id, and each batch's
// JSON.stringify and postMessage; the rest is reading the worker's answers, and with
// --webhook the receiver's side of the POSTs), "worker" the threads that appeared with
// the metering worker, "other" the rest of the process (GC and JIT helpers). The best
// round is the cost; the spread is other load on the machine.

import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { loadConfigText } from "../src/config/load.ts";
import { startMetering } from "../src/daemon/metering.ts";
import { Logger } from "../src/log/logger.ts";
import type { UsageResult, UsageSink } from "../src/metering/usage.ts";
import { metrics } from "../src/metrics/metrics.ts";
import { createServices } from "../src/runtime/services.ts";
import { migrate } from "../src/store/migrations.ts";
import { openDatabase } from "../src/store/sqlite.ts";

const { values: flags } = parseArgs({
  options: {
    records: { type: "string", default: "50000" },
    rounds: { type: "string", default: "3" },
    webhook: { type: "boolean", default: false },
  },
});
const N = Number(flags.records);
const ROUNDS = Number(flags.rounds);

/** CPU ns of each thread of this process, by thread id. */
function threadCpu(): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync("/proc/self/task")) {
    try {
      out.set(tid, Number(readFileSync(`/proc/self/task/${tid}/schedstat`, "utf8").split(" ")[0]));
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return out;
}

const MODELS = ["llama", "gpt-4o-mini", "claude-sonnet-4-5", "Qwen/Qwen3-32B", "mödel \"quoted\" 😀"];

/** Results like the proxy's: mostly successes, some errors, streams, keys and traceparents. */
function results(n: number, t0: number): UsageResult[] {
  return Array.from({ length: n }, (_, i) => {
    const failed = i % 20 === 7;
    const model = MODELS[i % MODELS.length]!;
    const prompt = failed ? 0 : 50 + (i % 900);
    const completion = failed ? 0 : 10 + (i % 400);
    return {
      requestId: `9f2c4e1a7b30-${i.toString(36)}`,
      startedAt: t0 + i,
      keyId: i % 3 === 0 ? null : `key_${"abcdefghijklmnop".slice(i % 4)}${"qrst".slice(0, i % 4)}`,
      endpoint: i % 4 === 0 ? "/v1/messages" : "/v1/chat/completions",
      requestedModel: model,
      route: i % 5 === 0 ? "*" : "llama",
      backend: i % 2 ? "vllm-a" : "vllm-b",
      upstreamModel: i % 5 === 3 ? "meta-llama/Llama-3.1-8B-Instruct" : model,
      stream: i % 2 === 0,
      promptTokens: prompt,
      completionTokens: completion,
      cachedTokens: failed ? 0 : i % 64,
      cacheWriteTokens: i % 10 === 0 ? 32 : 0,
      totalTokens: prompt + completion,
      source: failed ? "none" : i % 11 === 0 ? "estimate" : "backend",
      status: failed ? 502 : 200,
      errorCode: failed ? "upstream_http_502" : null,
      ttftMs: failed ? null : 12.345678 + (i % 100),
      latencyMs: 150.123456 + (i % 1000),
      retries: failed ? 1 : 0,
      bytesIn: 300 + (i % 50),
      bytesOut: 1200 + (i % 700),
      clientIp: i % 7 === 0 ? "::ffff:10.0.3.17" : "10.0.3.17",
      traceparent: i % 4 === 1 ? "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" : null,
    };
  });
}

async function receiver(): Promise<{ url: string; close: () => void }> {
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => res.writeHead(204).end());
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/usage`, close: () => server.close() };
}

async function written(): Promise<number> {
  return (await metrics.usageRecordsWritten.get()).values[0]?.value ?? 0;
}

async function round(dir: string, webhookUrl: string | null): Promise<void> {
  const db = join(dir, `usage-${Date.now()}.db`);
  // the daemon keeps a connection of its own open, and so the file's WAL, all along
  const own = openDatabase(db);
  migrate(own);
  const webhook = webhookUrl ? `\n  webhook: { url: ${webhookUrl}, secret: bench-metering-secret, batch: 100, interval: 50ms }` : "";
  const yaml = `database: ${db}
auth: none
backends: [{ name: vllm-a, provider: openai, url: "http://127.0.0.1:9" }]
models: [{ name: llama, targets: [{ backend: vllm-a }] }]
metering:
  flush_interval: 1s${webhook}
`;
  const loaded = loadConfigText(yaml, null);
  if (!loaded.ok) throw new Error(JSON.stringify(loaded));
  const log = new Logger({ level: "error", format: "json" });
  const services = createServices(log);
  let sink: UsageSink | null = null;
  services.usage.addSink = (s) => ((sink = s), () => {});
  const before = new Set(threadCpu().keys());
  const metering = startMetering(loaded.loaded.config, services, log);
  // the worker is up (it answers reports) before the clock starts
  await metering.report({ since: 0, until: 1, by: "model" });
  const rows = results(N, Date.now());
  const start0 = await written();

  const main = String(process.pid);
  const cpu0 = threadCpu();
  const total0 = process.cpuUsage();
  const t0 = performance.now();
  for (const u of rows) sink!.record(u);
  const writerNs = threadCpu().get(main)! - cpu0.get(main)!;
  while ((await written()) - start0 < N) await new Promise((r) => setTimeout(r, 5));
  if (webhookUrl) {
    while (((await metrics.webhookBacklog.get()).values[0]?.value ?? 1) > 0) await new Promise((r) => setTimeout(r, 5));
  }
  const wall = performance.now() - t0;
  const total1 = process.cpuUsage(total0);
  const cpu1 = threadCpu();

  let mainNs = 0;
  let workerNs = 0;
  let otherNs = 0;
  for (const [tid, ns] of cpu1) {
    const d = ns - (cpu0.get(tid) ?? 0);
    if (tid === main) mainNs += d;
    else if (!before.has(tid)) workerNs += d;
    else otherNs += d;
  }
  const per = (ns: number) => (ns / 1000 / N).toFixed(2).padStart(6);
  console.log(
    `event loop ${per(mainNs)} µs/record (writer ${per(writerNs).trim()})  worker ${per(workerNs)}  other ${per(otherNs)}  ` +
      `all threads ${per((total1.user + total1.system) * 1000)}  wall ${wall.toFixed(0)} ms`,
  );
  await metering.stop();
  own.close();
}

const dir = mkdtempSync(join(tmpdir(), "llmproxy-bench-metering-"));
const hook = flags.webhook ? await receiver() : null;
try {
  console.log(`${N} records a round, ${flags.webhook ? "with" : "without"} a webhook, ${process.versions.bun ? `bun ${process.versions.bun}` : `node ${process.version}`}`);
  for (let r = 0; r < ROUNDS; r++) await round(dir, hook?.url ?? null);
} finally {
  hook?.close();
  rmSync(dir, { recursive: true, force: true });
}
