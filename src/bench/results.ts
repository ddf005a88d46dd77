// The shape of `llmproxy bench --json`: both sides of every phase, and what the proxy
// adds (a difference for times, a ratio for throughput). Pure: built from measurements.
// A number that could not be measured (no samples) is null, never NaN (JSON has none).

import type { Measurement } from "./measure.ts";
import type { Plan } from "./plan.ts";
import type { StreamsResult } from "./load.ts";

type N = number | null;

export interface BenchSetup {
  mode: "local" | "target";
  /** What "through proxy" measured: the proxy started here, or --target. */
  proxyUrl: string;
  /** The backend measured directly, or null (--target without --direct). */
  directUrl: string | null;
  /** The process whose CPU and memory are measured, or null. */
  pid: number | null;
  /** One line: what was started or measured. */
  description: string;
  /** Local mode: the llmproxy command the children ran (null with --target). */
  executable: string | null;
  model: string;
  /** Local mode only (null with --target). */
  backends: number | null;
  strategy: string | null;
  keys: number | null;
  webhook: boolean | null;
}

export interface SideThroughput {
  rps: N;
  requests: number;
  errors: number;
}
export interface SideLatency {
  p50Ms: N;
  p99Ms: N;
  requests: number;
  errors: number;
}
export interface SideStreams {
  ttftP50Ms: N;
  ttftP99Ms: N;
  gapP99Ms: N;
  streams: number;
  completed: number;
  errors: number;
}
export interface SideOpenStreams {
  completed: number;
  errors: number;
  ttftP99Ms: N;
}

export interface BenchResult {
  setup: BenchSetup & { durationMs: number };
  throughput: { concurrency: number; direct: SideThroughput | null; proxy: SideThroughput; ratio: N };
  latency: { rate: number; direct: SideLatency | null; proxy: SideLatency; addedP50Ms: N; addedP99Ms: N };
  streams: { clients: number; tokens: number; tokenGapMs: number; direct: SideStreams | null; proxy: SideStreams; addedTtftP50Ms: N; addedTtftP99Ms: N; addedGapP99Ms: N };
  burst: { clients: number; direct: SideStreams | null; proxy: SideStreams; addedTtftP50Ms: N; addedTtftP99Ms: N };
  openStreams: { streams: number; tokens: number; tokenGapMs: number; direct: SideOpenStreams | null; proxy: SideOpenStreams; ttftP99Ratio: N };
  /** The proxy's process (local mode, or --target with --pid); null when not measured. */
  resources: { cpuPerRequestUs: N; rssMB: { idle: N; afterWarmup: N; openStreams: N; peak: N } } | null;
  /** Failed requests over every phase and side (they are left out of the numbers). */
  errors: number;
}

/** A finite number, or null (no samples, a division by zero requests). */
export function finite(v: number): N {
  return Number.isFinite(v) ? v : null;
}

const diff = (a: N, b: N): N => (a === null || b === null ? null : a - b);
const ratio = (a: N, b: N): N => (a === null || b === null || b === 0 ? null : a / b);
const mb = (bytes: number): N => finite(bytes / 1048576);

function sideStreams(s: StreamsResult): SideStreams {
  return { ttftP50Ms: finite(s.ttftMs.p50), ttftP99Ms: finite(s.ttftMs.p99), gapP99Ms: finite(s.gapMs.p99), streams: s.streams, completed: s.completed, errors: s.errors };
}

function errorsOf(m: Measurement): number {
  return m.throughput.errors + m.latency.errors + m.streams.errors + m.burst.errors + m.open.errors;
}

export function benchResult(setup: BenchSetup, plan: Plan, direct: Measurement | null, proxy: Measurement): BenchResult {
  const tp = (m: Measurement): SideThroughput => ({ rps: finite(m.throughput.rps), requests: m.throughput.requests, errors: m.throughput.errors });
  const lat = (m: Measurement): SideLatency => ({
    p50Ms: finite(m.latency.latencyMs.p50),
    p99Ms: finite(m.latency.latencyMs.p99),
    requests: m.latency.latencyMs.count,
    errors: m.latency.errors,
  });
  const open = (m: Measurement): SideOpenStreams => ({ completed: m.open.completed, errors: m.open.errors, ttftP99Ms: finite(m.open.ttftMs.p99) });

  const d = direct && { tp: tp(direct), lat: lat(direct), st: sideStreams(direct.streams), bu: sideStreams(direct.burst), open: open(direct) };
  const p = { tp: tp(proxy), lat: lat(proxy), st: sideStreams(proxy.streams), bu: sideStreams(proxy.burst), open: open(proxy) };
  const r = proxy.resources;
  return {
    setup: { ...setup, durationMs: plan.durationMs },
    throughput: { concurrency: plan.throughput.concurrency, direct: d?.tp ?? null, proxy: p.tp, ratio: ratio(p.tp.rps, d?.tp.rps ?? null) },
    latency: {
      rate: plan.latency.rps,
      direct: d?.lat ?? null,
      proxy: p.lat,
      addedP50Ms: diff(p.lat.p50Ms, d?.lat.p50Ms ?? null),
      addedP99Ms: diff(p.lat.p99Ms, d?.lat.p99Ms ?? null),
    },
    streams: {
      clients: plan.streams.concurrency,
      tokens: plan.streams.tokens,
      tokenGapMs: plan.streams.tokenGapMs,
      direct: d?.st ?? null,
      proxy: p.st,
      addedTtftP50Ms: diff(p.st.ttftP50Ms, d?.st.ttftP50Ms ?? null),
      addedTtftP99Ms: diff(p.st.ttftP99Ms, d?.st.ttftP99Ms ?? null),
      addedGapP99Ms: diff(p.st.gapP99Ms, d?.st.gapP99Ms ?? null),
    },
    burst: {
      clients: plan.burst.concurrency,
      direct: d?.bu ?? null,
      proxy: p.bu,
      addedTtftP50Ms: diff(p.bu.ttftP50Ms, d?.bu.ttftP50Ms ?? null),
      addedTtftP99Ms: diff(p.bu.ttftP99Ms, d?.bu.ttftP99Ms ?? null),
    },
    openStreams: {
      streams: plan.open.concurrency,
      tokens: plan.open.tokens,
      tokenGapMs: plan.open.tokenGapMs,
      direct: d?.open ?? null,
      proxy: p.open,
      ttftP99Ratio: ratio(p.open.ttftP99Ms, d?.open.ttftP99Ms ?? null),
    },
    resources: r && {
      cpuPerRequestUs: finite(r.cpuPerRequestUs),
      rssMB: { idle: mb(r.rssBytes.idle), afterWarmup: mb(r.rssBytes.afterWarmup), openStreams: mb(r.rssBytes.openStreams), peak: mb(r.rssBytes.peak) },
    },
    errors: (direct ? errorsOf(direct) : 0) + errorsOf(proxy),
  };
}
