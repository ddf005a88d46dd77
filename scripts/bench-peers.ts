// The second half of scripts/bench-peers.sh (which starts the fake backend and nginx in
// front of it): starts llmproxy in front of the same backend, as `llmproxy bench` does
// (metering on: SQLite and a webhook receiver here), then measures the same load against
// the backend directly, nginx and llmproxy, each phase against all three in turn, and
// prints llmproxy's numbers beside nginx's. Not meant to be run by hand:
//
//   bun scripts/bench-peers.ts --backend URL --nginx URL --nginx-pids PID,PID
//       [--bin PATH] [--duration 5s] [--concurrency 64] [--rate 2000] [--streams 64]
//       [--open-streams 1000] [--no-webhook] [--json]

import { selfCommand } from "../src/bench/children.ts";
import { Cleanup } from "../src/bench/cleanup.ts";
import { interruption } from "../src/bench/interrupt.ts";
import { startLocal } from "../src/bench/local-setup.ts";
import { type BenchTarget, measure } from "../src/bench/measure.ts";
import { makePlan } from "../src/bench/plan.ts";
import { procReadable, rssBytes, sumOver } from "../src/bench/proc.ts";
import { progressLine } from "../src/bench/progress.ts";
import { benchResult, type BenchResult, type BenchSetup } from "../src/bench/results.ts";
import { added, count, formatTable, megabytes, micros, ms, NONE, ROW_LABELS } from "../src/bench/table.ts";
import { checkTarget } from "../src/bench/target-check.ts";
import { benchOptions } from "../src/cli/bench-flags.ts";

const VALUE_FLAGS = ["--backend", "--nginx", "--nginx-pids", "--bin", "--duration", "--concurrency", "--rate", "--streams", "--open-streams"];

function parseArgs(argv: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--json" || a === "--no-webhook") out.set(a, "");
    else if (VALUE_FLAGS.includes(a) && argv[i + 1] !== undefined) out.set(a, argv[++i]!);
    else throw new Error(`bench-peers.ts: unknown argument ${a}`);
  }
  for (const f of ["--backend", "--nginx", "--nginx-pids"]) if (!out.has(f)) throw new Error(`bench-peers.ts: ${f} is required`);
  return out;
}

type Pair = { nginx: BenchResult; llmproxy: BenchResult };

/** llmproxy beside nginx: a share for throughput, a difference for times, a ratio for costs. */
function peersTable(p: Pair, heading: string): string[] {
  const n = p.nginx;
  const l = p.llmproxy;
  const share = (a: number | null, b: number | null) => (a === null || b === null || b === 0 ? NONE : `${((a / b) * 100).toFixed(1)}% of nginx`);
  const minus = (a: number | null, b: number | null) => (a === null || b === null ? NONE : added(a - b));
  const times = (a: number | null, b: number | null) => (a === null || b === null || b === 0 ? NONE : `${(a / b).toFixed(2)}× nginx`);
  const rows: string[][] = [["metric", "direct", "nginx", "llmproxy", "llmproxy vs nginx"]];
  const row = (label: string, f: (r: BenchResult) => number | null, fmt: (v: number | null) => string, cmp: typeof minus, direct: number | null = null) =>
    rows.push([label, fmt(direct), fmt(f(n)), fmt(f(l)), cmp(f(l), f(n))]);
  row(ROW_LABELS.throughput(n.throughput.concurrency), (r) => r.throughput.proxy.rps, count, share, n.throughput.direct?.rps ?? null);
  row(ROW_LABELS.latencyP50(n.latency.rate), (r) => r.latency.proxy.p50Ms, ms, minus, n.latency.direct?.p50Ms ?? null);
  row(ROW_LABELS.latencyP99(n.latency.rate), (r) => r.latency.proxy.p99Ms, ms, minus, n.latency.direct?.p99Ms ?? null);
  row(ROW_LABELS.ttftP50(n.streams.clients), (r) => r.streams.proxy.ttftP50Ms, ms, minus, n.streams.direct?.ttftP50Ms ?? null);
  row(ROW_LABELS.ttftP99(n.streams.clients), (r) => r.streams.proxy.ttftP99Ms, ms, minus, n.streams.direct?.ttftP99Ms ?? null);
  row(ROW_LABELS.gapP99(n.streams.tokenGapMs), (r) => r.streams.proxy.gapP99Ms, ms, minus, n.streams.direct?.gapP99Ms ?? null);
  row(ROW_LABELS.burstP50(n.burst.clients), (r) => r.burst.proxy.ttftP50Ms, ms, minus, n.burst.direct?.ttftP50Ms ?? null);
  row(ROW_LABELS.burstP99(n.burst.clients), (r) => r.burst.proxy.ttftP99Ms, ms, minus, n.burst.direct?.ttftP99Ms ?? null);
  const o = n.openStreams.streams;
  const done = (c: number | undefined) => (c === undefined ? NONE : `${c}/${o}`);
  rows.push([ROW_LABELS.openComplete(o), done(n.openStreams.direct?.completed), done(n.openStreams.proxy.completed), done(l.openStreams.proxy.completed), ""]);
  row(ROW_LABELS.openTtftP99(o), (r) => r.openStreams.proxy.ttftP99Ms, ms, times, n.openStreams.direct?.ttftP99Ms ?? null);
  const res = (r: BenchResult) => r.resources;
  if (res(n) && res(l)) {
    row("CPU per plain request", (r) => res(r)!.cpuPerRequestUs, micros, times);
    row("RSS idle", (r) => res(r)!.rssMB.idle, megabytes, times);
    row("RSS after warm-up", (r) => res(r)!.rssMB.afterWarmup, megabytes, times);
    row(`RSS with ${o} open streams`, (r) => res(r)!.rssMB.openStreams, megabytes, times);
  }
  const lines = [heading, "", ...formatTable(rows)];
  const errors = n.errors + l.errors;
  if (errors > 0) lines.push("", `${errors} requests failed; the numbers above leave them out.`);
  return lines;
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const o = benchOptions({
    duration: args.get("--duration"),
    concurrency: args.get("--concurrency"),
    rate: args.get("--rate"),
    streams: args.get("--streams"),
    openStreams: args.get("--open-streams"),
    json: args.has("--json"),
  });
  const plan = makePlan(o);
  const cleanup = new Cleanup();
  const onExit = () => cleanup.runNow();
  process.on("exit", onExit);
  const signals = interruption(cleanup, (s) => new Error(`interrupted by ${s}`), 1);
  const progress = progressLine(!o.json && process.stderr.isTTY === true);
  try {
    const run = async (): Promise<Pair> => {
      const command = args.has("--bin") ? [args.get("--bin")!] : selfCommand();
      const webhook = !args.has("--no-webhook");
      const local = await startLocal({ command, backends: [args.get("--backend")!], strategy: "round_robin", keys: 0, webhook }, cleanup);
      const nginxPids = args.get("--nginx-pids")!.split(",").map(Number).filter((p) => p > 0 && procReadable(p));
      const direct: BenchTarget = local.direct;
      const nginx: BenchTarget = { name: "nginx", url: args.get("--nginx")!, headers: {}, pids: nginxPids };
      const llmproxy: BenchTarget = { ...local.proxy, pids: procReadable(local.proxyPid) ? [local.proxyPid] : [] };
      const targets = [direct, nginx, llmproxy];
      const idle = targets.map((t) => sumOver(t.pids, rssBytes));
      for (const t of targets) {
        const check = await checkTarget(t, plan.chatBody, []);
        if (!check.ok) throw new Error(`${t.name} ${t.url}: ${check.problem}`);
      }
      const [d, n, l] = await measure(targets, plan, idle, progress.update);
      const setup = (url: string, pid: number | null, description: string, executable: string | null): BenchSetup => ({
        mode: "target",
        proxyUrl: url,
        directUrl: direct.url,
        pid,
        description,
        executable,
        model: o.model,
        backends: 1,
        strategy: "round_robin",
        keys: 0,
        webhook: url === llmproxy.url ? webhook : null,
      });
      return {
        nginx: benchResult(setup(nginx.url, nginxPids[0] ?? null, `nginx (pids ${nginxPids.join(", ")}) in front of the backend`, null), plan, d!, n!),
        llmproxy: benchResult(setup(llmproxy.url, local.proxyPid, local.description, command.join(" ")), plan, d!, l!),
      };
    };
    const pair = await Promise.race([run(), signals.interrupted]);
    signals.settle();
    progress.clear();
    const rps = (r: BenchResult) => r.throughput.proxy.rps;
    const shareOfNginx = rps(pair.llmproxy) !== null && rps(pair.nginx) ? rps(pair.llmproxy)! / rps(pair.nginx)! : null;
    if (o.json) process.stdout.write(JSON.stringify({ ...pair, llmproxyThroughputShareOfNginx: shareOfNginx }, null, 2) + "\n");
    else {
      const heading = `bench-peers: the backend ${pair.llmproxy.setup.directUrl}, nginx and llmproxy in front of it; ${o.durationMs / 1000} s per phase`;
      process.stdout.write(peersTable(pair, heading).join("\n") + "\n");
    }
    return pair.nginx.errors + pair.llmproxy.errors > 0 ? 1 : 0;
  } finally {
    signals.settle();
    progress.clear();
    await cleanup.run();
    signals.dispose();
    process.off("exit", onExit);
  }
}

try {
  process.exitCode = await main();
} catch (err) {
  process.stderr.write(`bench-peers: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
}
