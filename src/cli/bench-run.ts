// `llmproxy bench` from checked options to printed results: start what the local mode
// needs (or take the --target as it is), check each target with one request, measure,
// print. Whatever way it ends (results, an error, Ctrl-C), the processes it started are
// stopped and its temp dir removed; a second Ctrl-C kills them without waiting.

import { accessSync, constants } from "node:fs";
import { resolve } from "node:path";
import { selfCommand } from "../bench/children.ts";
import { Cleanup } from "../bench/cleanup.ts";
import { interruption } from "../bench/interrupt.ts";
import { startLocal } from "../bench/local-setup.ts";
import { type BenchTarget, measure } from "../bench/measure.ts";
import { makePlan } from "../bench/plan.ts";
import { procReadable, rssBytes, sumOver } from "../bench/proc.ts";
import { type ProgressLine, progressLine } from "../bench/progress.ts";
import { type BenchResult, type BenchSetup, benchResult } from "../bench/results.ts";
import { benchTable } from "../bench/table.ts";
import { checkTarget } from "../bench/target-check.ts";
import type { BenchOptions, LocalMode, TargetMode } from "./bench-flags.ts";
import { CliError, EXIT } from "./exit.ts";

interface Prepared {
  setup: BenchSetup;
  direct: BenchTarget | null;
  proxy: BenchTarget;
  /** How errors name each target: "--target", "--direct", "the proxy bench started". */
  labels: Map<BenchTarget, string>;
}

function executable(path: string): string[] {
  const file = resolve(path);
  try {
    accessSync(file, constants.X_OK);
  } catch {
    throw new CliError(`--bin: ${path} is not an executable file`, EXIT.USAGE);
  }
  return [file];
}

async function prepareLocal(o: BenchOptions, m: LocalMode, cleanup: Cleanup, progress: ProgressLine): Promise<Prepared> {
  const command = m.bin !== null ? executable(m.bin) : selfCommand();
  progress.update(0, 6, "starting", m.backends === 1 ? "llmproxy mock and llmproxy serve" : `${m.backends} llmproxy mocks and llmproxy serve`);
  let local;
  try {
    local = await startLocal({ command, backends: m.backends, strategy: m.strategy, keys: m.keys, webhook: m.webhook }, cleanup);
  } catch (err) {
    throw new CliError(`cannot start the processes to measure: ${err instanceof Error ? err.message : String(err)}`);
  }
  // without /proc (not Linux) the rest still runs, without CPU and memory figures
  const proxy = procReadable(local.proxyPid) ? local.proxy : { ...local.proxy, pids: [] };
  return {
    setup: {
      mode: "local",
      proxyUrl: local.proxy.url,
      directUrl: local.direct.url,
      pid: proxy.pids.length > 0 ? local.proxyPid : null,
      description: local.description,
      executable: command.join(" "),
      model: o.model,
      backends: m.backends,
      strategy: m.strategy,
      keys: m.keys,
      webhook: m.webhook,
    },
    direct: local.direct,
    proxy,
    labels: new Map([
      [local.direct, "the llmproxy mock started for the benchmark"],
      [proxy, "the llmproxy serve started for the benchmark"],
    ]),
  };
}

function prepareTarget(o: BenchOptions, m: TargetMode): Prepared {
  if (m.pid !== null && !procReadable(m.pid)) throw new CliError(`--pid ${m.pid}: no such process on this machine (or /proc cannot be read)`);
  const proxy: BenchTarget = { name: "target", url: m.target, headers: m.key !== null ? { authorization: `Bearer ${m.key}` } : {}, pids: m.pid !== null ? [m.pid] : [] };
  const direct: BenchTarget | null = m.direct !== null ? { name: "direct", url: m.direct, headers: {}, pids: [] } : null;
  const auth = m.key !== null ? "with a key" : "without a key";
  const description = `target ${m.target} (model ${o.model}, ${auth})${m.pid !== null ? `, pid ${m.pid}` : ""}${direct ? `; direct ${direct.url}` : ""}`;
  const labels = new Map<BenchTarget, string>([[proxy, "--target"]]);
  if (direct) labels.set(direct, "--direct");
  return {
    setup: { mode: "target", proxyUrl: m.target, directUrl: m.direct, pid: m.pid, description, executable: null, model: o.model, backends: null, strategy: null, keys: null, webhook: null },
    direct,
    proxy,
    labels,
  };
}

async function bench(o: BenchOptions, cleanup: Cleanup, progress: ProgressLine): Promise<BenchResult> {
  const plan = makePlan(o);
  const p = o.mode.kind === "local" ? await prepareLocal(o, o.mode, cleanup, progress) : prepareTarget(o, o.mode);
  const targets = p.direct ? [p.direct, p.proxy] : [p.proxy];
  // before the first request: the proxy's memory when idle
  const idle = targets.map((t) => sumOver(t.pids, rssBytes));
  const secrets = o.mode.kind === "target" && o.mode.key !== null ? [o.mode.key] : [];
  for (const t of targets) {
    const check = await checkTarget(t, plan.chatBody, secrets);
    if (!check.ok) throw new CliError(`${p.labels.get(t) ?? t.name} ${t.url}: ${check.problem}`);
  }
  const measured = await measure(targets, plan, idle, progress.update);
  return benchResult(p.setup, plan, p.direct ? measured[0]! : null, measured[measured.length - 1]!);
}

export async function runBench(o: BenchOptions): Promise<void> {
  const cleanup = new Cleanup();
  // the last resort: whatever ends the process, no child outlives it
  const onExit = (): void => cleanup.runNow();
  process.on("exit", onExit);
  const signals = interruption(cleanup, (signal) => new CliError(`interrupted by ${signal}; the processes bench started are stopped`), EXIT.FAILURE);
  const progress = progressLine(!o.json && process.stderr.isTTY === true);
  try {
    const result = await Promise.race([bench(o, cleanup, progress), signals.interrupted]);
    signals.settle();
    progress.clear();
    process.stdout.write((o.json ? JSON.stringify(result, null, 2) : benchTable(result).join("\n")) + "\n");
    if (result.errors > 0) throw new CliError(`${result.errors} requests failed (refused connections or answers other than 200); the numbers leave them out`);
  } finally {
    signals.settle();
    progress.clear();
    await cleanup.run();
    signals.dispose();
    process.off("exit", onExit);
  }
}
