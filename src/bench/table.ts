// `llmproxy bench`'s table: one row per number, the backend directly, through the proxy,
// and what the proxy costs. Pure: a BenchResult in, lines out.

import type { BenchResult, SideStreams } from "./results.ts";

type N = number | null;

/** Columns padded to their widest cell, two spaces apart. */
export function formatTable(rows: readonly (readonly string[])[]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd());
}

export const NONE = "-";
export const ms = (v: N): string => (v === null ? NONE : `${v.toFixed(3)} ms`);
export const added = (v: N): string => (v === null ? NONE : `${v >= 0 ? "+" : ""}${v.toFixed(3)} ms`);
export const count = (v: N): string => (v === null ? NONE : v.toFixed(0));
export const megabytes = (v: N): string => (v === null ? NONE : `${v.toFixed(1)} MB`);
export const micros = (v: N): string => (v === null ? NONE : `${v.toFixed(1)} µs`);

/** The rows' first cells, in order (the tests check that each is printed). */
export const ROW_LABELS = {
  throughput: (c: number) => `requests/s, ${c} connections (closed loop)`,
  latencyP50: (r: number) => `latency p50 at ${r} req/s (open loop)`,
  latencyP99: (r: number) => `latency p99 at ${r} req/s (open loop)`,
  ttftP50: (c: number) => `TTFT p50, ${c} stream clients`,
  ttftP99: (c: number) => `TTFT p99, ${c} stream clients`,
  gapP99: (gap: number) => `inter-chunk gap p99 (tokens ${gap} ms apart)`,
  burstP50: (c: number) => `TTFT p50, ${c} streams started at once`,
  burstP99: (c: number) => `TTFT p99, ${c} streams started at once`,
  openComplete: (n: number) => `${n} open streams: completed`,
  openTtftP99: (n: number) => `TTFT p99, ${n} open streams`,
  cpu: "proxy CPU per plain request",
  rssIdle: "proxy RSS idle",
  rssWarm: "proxy RSS after warm-up",
  rssOpen: (n: number) => `proxy RSS with ${n} open streams`,
  rssPeak: "proxy RSS peak",
} as const;

export function benchTable(r: BenchResult): string[] {
  const d = r.throughput.direct;
  const through = r.setup.mode === "local" ? "through proxy" : "target";
  const rows: string[][] = [["metric", "direct", through, "proxy cost"]];
  const pct = r.throughput.ratio === null ? NONE : `${(r.throughput.ratio * 100).toFixed(1)}% of direct`;
  rows.push([ROW_LABELS.throughput(r.throughput.concurrency), count(d?.rps ?? null), count(r.throughput.proxy.rps), d ? pct : ""]);

  const l = r.latency;
  rows.push([ROW_LABELS.latencyP50(l.rate), ms(l.direct?.p50Ms ?? null), ms(l.proxy.p50Ms), l.direct ? added(l.addedP50Ms) : ""]);
  rows.push([ROW_LABELS.latencyP99(l.rate), ms(l.direct?.p99Ms ?? null), ms(l.proxy.p99Ms), l.direct ? added(l.addedP99Ms) : ""]);

  const s = r.streams;
  const streamRow = (label: string, f: (x: SideStreams) => N, add: N, direct: SideStreams | null, proxy: SideStreams) => [
    label,
    ms(direct ? f(direct) : null),
    ms(f(proxy)),
    direct ? added(add) : "",
  ];
  rows.push(streamRow(ROW_LABELS.ttftP50(s.clients), (x) => x.ttftP50Ms, s.addedTtftP50Ms, s.direct, s.proxy));
  rows.push(streamRow(ROW_LABELS.ttftP99(s.clients), (x) => x.ttftP99Ms, s.addedTtftP99Ms, s.direct, s.proxy));
  rows.push(streamRow(ROW_LABELS.gapP99(s.tokenGapMs), (x) => x.gapP99Ms, s.addedGapP99Ms, s.direct, s.proxy));
  const b = r.burst;
  rows.push(streamRow(ROW_LABELS.burstP50(b.clients), (x) => x.ttftP50Ms, b.addedTtftP50Ms, b.direct, b.proxy));
  rows.push(streamRow(ROW_LABELS.burstP99(b.clients), (x) => x.ttftP99Ms, b.addedTtftP99Ms, b.direct, b.proxy));

  const o = r.openStreams;
  const done = (x: { completed: number } | null) => (x ? `${x.completed}/${o.streams}` : NONE);
  rows.push([ROW_LABELS.openComplete(o.streams), done(o.direct), done(o.proxy), ""]);
  const times = o.ttftP99Ratio === null ? NONE : `${o.ttftP99Ratio.toFixed(2)}× direct`;
  rows.push([ROW_LABELS.openTtftP99(o.streams), ms(o.direct?.ttftP99Ms ?? null), ms(o.proxy.ttftP99Ms), o.direct ? times : ""]);

  const res = r.resources;
  if (res) {
    const at = r.setup.mode === "local" ? "started, no traffic" : "before the benchmark";
    rows.push([ROW_LABELS.cpu, "", micros(res.cpuPerRequestUs), "user + system, all threads"]);
    rows.push([ROW_LABELS.rssIdle, "", megabytes(res.rssMB.idle), at]);
    rows.push([ROW_LABELS.rssWarm, "", megabytes(res.rssMB.afterWarmup), ""]);
    rows.push([ROW_LABELS.rssOpen(o.streams), "", megabytes(res.rssMB.openStreams), "highest while open"]);
    rows.push([ROW_LABELS.rssPeak, "", megabytes(res.rssMB.peak), r.setup.mode === "local" ? "high-water mark over the run" : "high-water mark since it started"]);
  }

  const lines = [`llmproxy bench: ${r.setup.description}; ${r.setup.durationMs / 1000} s per phase`, "", ...formatTable(rows), ""];
  if (!d) lines.push("No direct column: pass --direct URL (the backend behind the target) to measure it too.");
  if (!res) {
    lines.push(
      r.setup.mode === "local"
        ? "No CPU or memory figures: /proc cannot be read on this system."
        : "No CPU or memory figures: pass --pid PID (the target's process, on this machine) to read them.",
    );
  }
  if (r.errors > 0) lines.push(`${r.errors} requests failed; the numbers above leave them out.`);
  if (lines[lines.length - 1] === "") lines.pop();
  return lines;
}
