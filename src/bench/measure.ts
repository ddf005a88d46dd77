// Runs the plan's phases against a list of targets: each phase against every target in
// turn (the backend directly first, then the proxies), so that they are measured under
// the same conditions, minutes apart at most. Targets with process ids also get their
// CPU time per request and resident memory read from /proc.

import { closedLoop, openLoop, type OpenLoopResult, streams, type StreamsResult, type Target, type ThroughputResult } from "./load.ts";
import { chatPath, type Plan, type StreamPhase } from "./plan.ts";
import { cpuSeconds, peakRssBytes, rssBytes, sumOver } from "./proc.ts";

export interface BenchTarget extends Target {
  /** For progress lines: "direct", "llmproxy", "nginx". */
  name: string;
  /** Processes whose CPU and memory are this target's cost (empty: not measured). */
  pids: number[];
}

export interface Resources {
  cpuPerRequestUs: number;
  rssBytes: { idle: number; afterWarmup: number; openStreams: number; peak: number };
}

export interface Measurement {
  name: string;
  throughput: ThroughputResult;
  latency: OpenLoopResult;
  streams: StreamsResult;
  burst: StreamsResult;
  open: StreamsResult;
  resources: Resources | null;
}

/** Told the phase and target about to run (a progress line). */
export type Progress = (step: number, steps: number, phase: string, target: string) => void;

/** How often memory is read while the streams are open. */
const RSS_SAMPLE_MS = 20;

export const PHASES = 6;

/**
 * Measure every target. `idleRss` is each target's resident memory read before any
 * traffic (the caller reads it before its first check request).
 */
export async function measure(targets: readonly BenchTarget[], plan: Plan, idleRss: readonly number[], progress: Progress): Promise<Measurement[]> {
  const cpu = (t: BenchTarget) => sumOver(t.pids, cpuSeconds);
  const rss = (t: BenchTarget) => sumOver(t.pids, rssBytes);
  const path = (t: BenchTarget) => chatPath(t.url);
  const runStreams = (t: BenchTarget, p: StreamPhase) => streams(t, path(t), plan.streamBody, p);

  progress(1, PHASES, "warm-up", targets.map((t) => t.name).join(", "));
  for (const t of targets) await closedLoop(t, path(t), plan.chatBody, plan.warmup);
  const warmRss = targets.map(rss);

  const throughput: ThroughputResult[] = [];
  const cpuPerRequestUs: number[] = [];
  for (const t of targets) {
    progress(2, PHASES, `requests/s, ${plan.throughput.concurrency} connections`, t.name);
    const cpu0 = cpu(t);
    const r = await closedLoop(t, path(t), plan.chatBody, plan.throughput);
    throughput.push(r);
    cpuPerRequestUs.push(((cpu(t) - cpu0) / r.requests) * 1e6);
  }

  const latency: OpenLoopResult[] = [];
  for (const t of targets) {
    progress(3, PHASES, `latency at ${plan.latency.rps} req/s`, t.name);
    latency.push(await openLoop(t, path(t), plan.chatBody, plan.latency));
  }

  const steady: StreamsResult[] = [];
  for (const t of targets) {
    progress(4, PHASES, `${plan.streams.concurrency} stream clients`, t.name);
    steady.push(await runStreams(t, plan.streams));
  }

  const burst: StreamsResult[] = [];
  for (const t of targets) {
    progress(5, PHASES, `${plan.burst.concurrency} streams at once`, t.name);
    burst.push(await runStreams(t, plan.burst));
  }

  const open: StreamsResult[] = [];
  const openRss: number[] = [];
  for (const t of targets) {
    progress(6, PHASES, `${plan.open.concurrency} open streams`, t.name);
    // read while the streams are open (the high-water mark would also count the phases above)
    let peak = 0;
    const sampler = t.pids.length > 0 ? setInterval(() => (peak = Math.max(peak, rss(t))), RSS_SAMPLE_MS) : null;
    open.push(await runStreams(t, plan.open));
    if (sampler) clearInterval(sampler);
    openRss.push(peak);
  }

  return targets.map((t, i) => ({
    name: t.name,
    throughput: throughput[i]!,
    latency: latency[i]!,
    streams: steady[i]!,
    burst: burst[i]!,
    open: open[i]!,
    resources:
      t.pids.length === 0
        ? null
        : {
            cpuPerRequestUs: cpuPerRequestUs[i]!,
            rssBytes: {
              idle: idleRss[i] ?? Number.NaN,
              afterWarmup: warmRss[i]!,
              openStreams: openRss[i]!,
              // the kernel updates the high-water mark lazily: it can trail a reading just taken
              peak: Math.max(sumOver(t.pids, peakRssBytes), warmRss[i]!, openRss[i]!),
            },
          },
  }));
}
