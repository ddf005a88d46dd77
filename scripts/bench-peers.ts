// The second half of scripts/bench-peers.sh (which starts the fake backend, nginx and the
// bare Bun passthroughs in front of it): starts llmproxy in front of the same backend, as
// `llmproxy bench` does (metering on: SQLite and a webhook receiver here), on Bun and,
// with --node-bundle, a second one on Node; then measures the same load against the
// backend directly, nginx, the passthroughs and each llmproxy, each phase against all of
// them in turn, and prints their numbers beside nginx's. Not meant to be run by hand:
//
//   bun scripts/bench-peers.ts --backend URL --nginx URL --nginx-pids PID,PID
//       [--floor URL --floor-pid PID] [--floor-js URL --floor-js-pid PID] [--bin PATH] [--node-bundle dist/llmproxy.mjs [--node PATH]] [--duration 5s]
//       [--concurrency 64] [--rate 2000] [--streams 64] [--open-streams 1000]
//       [--no-webhook] [--json]

import { execFileSync } from "node:child_process";
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

const VALUE_FLAGS = ["--backend", "--nginx", "--nginx-pids", "--floor", "--floor-pid", "--floor-js", "--floor-js-pid", "--bin", "--node-bundle", "--node", "--duration", "--concurrency", "--rate", "--streams", "--open-streams"];

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

/** One llmproxy measured beside nginx. */
interface Peer {
  /** "bun 1.4.5", "node 20.20.2": what `llmproxy version --json` says it runs on. */
  runtime: string;
  result: BenchResult;
}

/**
 * The bare Bun passthroughs (scripts/bun-passthrough.ts), when measured: "native", the
 * answer's body handed from fetch to Bun.serve untouched; "js", read in JavaScript chunk
 * by chunk (--read-in-js), as any proxy that looks at the bytes must.
 */
const FLOORS = {
  native: { flag: "--floor", name: "bun passthrough", versus: "passthrough vs nginx", what: "Bun.serve + fetch passthrough" },
  js: { flag: "--floor-js", name: "bun passthrough, JS read", versus: "JS read vs nginx", what: "Bun.serve + fetch passthrough reading the body in JavaScript" },
} as const;
type FloorKind = keyof typeof FLOORS;

interface Peers {
  nginx: BenchResult;
  floors: Partial<Record<FloorKind, BenchResult>>;
  /** The first is llmproxy on Bun; the second, when measured, on Node. */
  llmproxy: Peer[];
}

/** Each beside nginx: a share for throughput, a difference for times, a ratio for costs. */
function peersTable(p: Peers, heading: string): string[] {
  const n = p.nginx;
  const share = (a: number | null, b: number | null) => (a === null || b === null || b === 0 ? NONE : `${((a / b) * 100).toFixed(1)}%`);
  const minus = (a: number | null, b: number | null) => (a === null || b === null ? NONE : added(a - b));
  const times = (a: number | null, b: number | null) => (a === null || b === null || b === 0 ? NONE : `${(a / b).toFixed(2)}×`);
  // one llmproxy: named as before; two: by runtime ("llmproxy bun", "node vs nginx")
  const engine = (peer: Peer) => peer.runtime.split(" ")[0]!;
  const columns: { name: string; versus: string; result: BenchResult }[] = [];
  for (const kind of Object.keys(FLOORS) as FloorKind[]) {
    const result = p.floors[kind];
    if (result) columns.push({ name: FLOORS[kind].name, versus: FLOORS[kind].versus, result });
  }
  for (const peer of p.llmproxy) {
    const one = p.llmproxy.length === 1;
    columns.push({ name: one ? "llmproxy" : `llmproxy ${engine(peer)}`, versus: one ? "llmproxy vs nginx" : `${engine(peer)} vs nginx`, result: peer.result });
  }
  const rows: string[][] = [["metric", "direct", "nginx", ...columns.map((c) => c.name), ...columns.map((c) => c.versus)]];
  const row = (label: string, f: (r: BenchResult) => number | null, fmt: (v: number | null) => string, cmp: typeof minus, direct: number | null = null) =>
    rows.push([label, fmt(direct), fmt(f(n)), ...columns.map((c) => fmt(f(c.result))), ...columns.map((c) => cmp(f(c.result), f(n)))]);
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
  rows.push([ROW_LABELS.openComplete(o), done(n.openStreams.direct?.completed), done(n.openStreams.proxy.completed), ...columns.map((c) => done(c.result.openStreams.proxy.completed))]);
  row(ROW_LABELS.openTtftP99(o), (r) => r.openStreams.proxy.ttftP99Ms, ms, times, n.openStreams.direct?.ttftP99Ms ?? null);
  const res = (r: BenchResult) => r.resources;
  if (res(n) && columns.every((c) => res(c.result))) {
    row("CPU per plain request", (r) => res(r)!.cpuPerRequestUs, micros, times);
    row("RSS idle", (r) => res(r)!.rssMB.idle, megabytes, times);
    row("RSS after warm-up", (r) => res(r)!.rssMB.afterWarmup, megabytes, times);
    row(`RSS with ${o} open streams`, (r) => res(r)!.rssMB.openStreams, megabytes, times);
  }
  const lines = [heading, "", ...formatTable(rows)];
  const errors = n.errors + columns.reduce((sum, c) => sum + c.result.errors, 0);
  if (errors > 0) lines.push("", `${errors} requests failed; the numbers above leave them out.`);
  return lines;
}

/** What the llmproxy of `command` runs on, from `llmproxy version --json`. */
function runtimeOf(command: readonly string[]): string {
  const out = execFileSync(command[0]!, [...command.slice(1), "version", "--json"], { encoding: "utf8" });
  return (JSON.parse(out) as { runtime: string }).runtime;
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
    const run = async (): Promise<Peers> => {
      const webhook = !args.has("--no-webhook");
      const backend = args.get("--backend")!;
      // Bun's llmproxy (the executable, or the sources under this Bun), then Node's
      const commands = [args.has("--bin") ? [args.get("--bin")!] : selfCommand()];
      if (args.has("--node-bundle")) commands.push([args.get("--node") ?? "node", args.get("--node-bundle")!]);
      const runtimes = commands.map(runtimeOf);
      const proxies: { target: BenchTarget; pid: number; description: string }[] = [];
      for (const [i, command] of commands.entries()) {
        // each its own temp dir, SQLite file and webhook receiver, the same config
        const local = await startLocal({ command, backends: [backend], strategy: "round_robin", keys: 0, webhook }, cleanup);
        const name = commands.length === 1 ? "llmproxy" : `llmproxy (${runtimes[i]!.split(" ")[0]})`;
        const pids = procReadable(local.proxyPid) ? [local.proxyPid] : [];
        proxies.push({ target: { ...local.proxy, name, pids }, pid: local.proxyPid, description: `${local.description}; ${runtimes[i]}` });
      }
      const nginxPids = args.get("--nginx-pids")!.split(",").map(Number).filter((p) => p > 0 && procReadable(p));
      const direct: BenchTarget = { name: "direct", url: backend, headers: {}, pids: [] };
      const nginx: BenchTarget = { name: "nginx", url: args.get("--nginx")!, headers: {}, pids: nginxPids };
      const floors = (Object.keys(FLOORS) as FloorKind[])
        .filter((kind) => args.has(FLOORS[kind].flag))
        .map((kind) => {
          const pid = Number(args.get(`${FLOORS[kind].flag}-pid`) ?? 0);
          const target: BenchTarget = { name: FLOORS[kind].name, url: args.get(FLOORS[kind].flag)!, headers: {}, pids: pid > 0 && procReadable(pid) ? [pid] : [] };
          return { kind, pid, target };
        });
      const targets = [direct, nginx, ...floors.map((f) => f.target), ...proxies.map((p) => p.target)];
      const idle = targets.map((t) => sumOver(t.pids, rssBytes));
      for (const t of targets) {
        const check = await checkTarget(t, plan.chatBody, []);
        if (!check.ok) throw new Error(`${t.name} ${t.url}: ${check.problem}`);
      }
      const [d, n, ...rest] = await measure(targets, plan, idle, progress.update);
      const f = rest.splice(0, floors.length);
      const l = rest;
      const setup = (url: string, pid: number | null, description: string, executable: string | null, metered: boolean): BenchSetup => ({
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
        webhook: metered ? webhook : null,
      });
      return {
        nginx: benchResult(setup(nginx.url, nginxPids[0] ?? null, `nginx (pids ${nginxPids.join(", ")}) in front of the backend`, null, false), plan, d!, n!),
        floors: Object.fromEntries(
          floors.map((fl, i) => [fl.kind, benchResult(setup(fl.target.url, fl.pid || null, `${FLOORS[fl.kind].what} (pid ${fl.pid}) in front of the backend`, null, false), plan, d!, f[i]!)]),
        ),
        llmproxy: proxies.map((p, i) => ({
          runtime: runtimes[i]!,
          result: benchResult(setup(p.target.url, p.pid, p.description, commands[i]!.join(" "), true), plan, d!, l[i]!),
        })),
      };
    };
    const peers = await Promise.race([run(), signals.interrupted]);
    signals.settle();
    progress.clear();
    const rps = (r: BenchResult) => r.throughput.proxy.rps;
    const shareOf = (r: BenchResult | undefined | null) => (r && rps(r) !== null && rps(peers.nginx) ? rps(r)! / rps(peers.nginx)! : null);
    const shareOfNginx = (peer: Peer | undefined) => shareOf(peer?.result);
    const [bun, node] = peers.llmproxy;
    if (o.json) {
      const json = {
        nginx: peers.nginx,
        llmproxy: bun!.result,
        llmproxyNode: node?.result ?? null,
        runtimes: { llmproxy: bun!.runtime, llmproxyNode: node?.runtime ?? null },
        llmproxyThroughputShareOfNginx: shareOfNginx(bun),
        llmproxyNodeThroughputShareOfNginx: shareOfNginx(node),
        bunPassthrough: peers.floors.native ?? null,
        bunPassthroughThroughputShareOfNginx: shareOf(peers.floors.native),
        bunPassthroughJsRead: peers.floors.js ?? null,
        bunPassthroughJsReadThroughputShareOfNginx: shareOf(peers.floors.js),
      };
      process.stdout.write(JSON.stringify(json, null, 2) + "\n");
    } else {
      const which = peers.llmproxy.length === 1 ? `llmproxy (${bun!.runtime})` : `llmproxy on ${bun!.runtime} and on ${node!.runtime}`;
      const heading = `bench-peers: the backend ${peers.nginx.setup.directUrl}, nginx and ${which} in front of it; ${o.durationMs / 1000} s per phase`;
      process.stdout.write(peersTable(peers, heading).join("\n") + "\n");
    }
    const floorErrors = Object.values(peers.floors).reduce((sum, r) => sum + r.errors, 0);
    return peers.nginx.errors + floorErrors + peers.llmproxy.reduce((sum, l) => sum + l.result.errors, 0) > 0 ? 1 : 0;
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
