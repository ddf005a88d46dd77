// Load generators for benchmarks, on raw keep-alive connections (raw-client.ts). Every
// loop is bounded in count and in time. Each generator measures the same way whatever
// the target, so a run against the backend directly and one through the proxy compare
// like for like.

import { setTimeout as sleep } from "node:timers/promises";
import { hostPort, postBytes, RawConnection } from "./raw-client.ts";
import { summarize, type Summary } from "./stats.ts";

export interface Target {
  /** Base URL, e.g. http://127.0.0.1:8080 */
  url: string;
  headers: Record<string, string>;
}

export interface ThroughputResult {
  requests: number;
  errors: number;
  seconds: number;
  rps: number;
  latencyMs: Summary;
}

/** A connection that takes longer than this to open counts as failed. */
const CONNECT_TIMEOUT_MS = 5_000;
/**
 * How long past its planned end a phase may run before what is still in flight is cut
 * (and counted as errors): a hung target must not hang the benchmark. Generous, so that
 * a slow real backend finishing its last streams is not cut.
 */
export const PHASE_GRACE_MS = 30_000;

/**
 * The connections of one phase and its hard time bound: when the bound passes, every
 * connection is cut, so whatever awaits a request gets its error and the phase ends.
 */
class Phase {
  private readonly conns = new Set<RawConnection>();
  private readonly timer: ReturnType<typeof setTimeout>;
  cut = false;

  constructor(
    private readonly t: Target,
    limitMs: number,
  ) {
    this.timer = setTimeout(() => {
      this.cut = true;
      for (const c of this.conns) c.abort();
    }, limitMs);
  }

  async connect(): Promise<RawConnection> {
    if (this.cut) throw new Error("the phase was cut");
    const { host, port, tls } = hostPort(this.t.url);
    const opening = RawConnection.open(host, port, tls);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no connection within ${CONNECT_TIMEOUT_MS} ms`)), CONNECT_TIMEOUT_MS);
    });
    try {
      const c = await Promise.race([opening, late]);
      if (this.cut) {
        c.abort();
        throw new Error("the phase was cut");
      }
      this.conns.add(c);
      return c;
    } catch (err) {
      // a connection that opens after all is closed at once
      opening.then((c) => c.close(), () => {});
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  end(): void {
    clearTimeout(this.timer);
    for (const c of this.conns) c.close();
    this.conns.clear();
  }
}

/** Settle every promise, counting the rejected ones (connections that did not open). */
async function openAll(phase: Phase, n: number): Promise<{ conns: RawConnection[]; failed: number }> {
  const settled = await Promise.allSettled(Array.from({ length: n }, () => phase.connect()));
  const conns = settled.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
  return { conns, failed: n - conns.length };
}

/** Closed loop: `concurrency` connections, each sending its next request when the last one ended. */
export async function closedLoop(
  t: Target,
  path: string,
  body: string,
  opts: { concurrency: number; durationMs: number; maxRequests: number; limitMs?: number },
): Promise<ThroughputResult> {
  const bytes = postBytes(t.url, path, body, t.headers);
  const phase = new Phase(t, opts.limitMs ?? opts.durationMs + PHASE_GRACE_MS);
  const { conns, failed } = await openAll(phase, opts.concurrency);
  const latencies: number[] = [];
  let errors = failed;
  let sent = 0;
  const started = performance.now();
  const deadline = started + opts.durationMs;
  const worker = async (c: RawConnection) => {
    while (performance.now() < deadline && sent < opts.maxRequests) {
      sent++;
      try {
        const r = await c.request(bytes);
        if (r.status === 200) latencies.push(r.totalMs);
        else errors++;
      } catch {
        errors++;
        return;
      }
    }
  };
  await Promise.all(conns.map(worker));
  const seconds = (performance.now() - started) / 1000;
  phase.end();
  return { requests: latencies.length, errors, seconds, rps: latencies.length / seconds, latencyMs: summarize(latencies) };
}

export interface OpenLoopResult {
  offeredRps: number;
  sent: number;
  errors: number;
  latencyMs: Summary;
}

/**
 * Open loop: requests start on a fixed schedule whatever the answers do, and each
 * latency is measured from its scheduled start, so queueing shows (no coordinated
 * omission, as wrk2 does it). A request goes out on an idle connection, or a new one.
 */
export async function openLoop(t: Target, path: string, body: string, opts: { rps: number; durationMs: number; limitMs?: number }): Promise<OpenLoopResult> {
  const bytes = postBytes(t.url, path, body, t.headers);
  const total = Math.floor((opts.rps * opts.durationMs) / 1000);
  const interval = 1000 / opts.rps;
  const phase = new Phase(t, opts.limitMs ?? opts.durationMs + PHASE_GRACE_MS);
  const opened = await openAll(phase, Math.min(8, Math.max(1, total)));
  const idle: RawConnection[] = opened.conns;
  const latencies: number[] = [];
  let errors = 0;
  const inflight: Promise<void>[] = [];
  const send = async (scheduled: number) => {
    try {
      const c = idle.pop() ?? (await phase.connect());
      const r = await c.request(bytes);
      if (r.status === 200) latencies.push(performance.now() - scheduled);
      else errors++;
      idle.push(c);
    } catch {
      errors++;
    }
  };
  const started = performance.now();
  let next = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      while (next < total && started + next * interval <= now) {
        inflight.push(send(started + next * interval));
        next++;
      }
      if (next >= total || phase.cut) resolve();
      else setTimeout(tick, Math.max(0, started + next * interval - performance.now()));
    };
    tick();
  });
  await Promise.all(inflight);
  phase.end();
  // requests never sent because the phase was cut count as errors
  errors += total - next;
  return { offeredRps: opts.rps, sent: total, errors, latencyMs: summarize(latencies) };
}

export interface StreamsResult {
  /** Streams asked for: completed + errors. */
  streams: number;
  completed: number;
  errors: number;
  ttftMs: Summary;
  /** Longest pause between two chunks of one stream. */
  gapMs: Summary;
  /** Total body bytes received, to tell complete streams from cut ones. */
  bytes: number;
}

/**
 * `concurrency` clients, each on its own connection running up to `rounds` streams back
 * to back (with `durationMs`, none starts after that time). With `spreadMs` the clients
 * start spread over that time (steady load: streams begin and end at different moments,
 * as with real users); with 0 they all start at once (a burst). TTFT = time to the first
 * body byte that carries content; gap = the longest pause between arrivals within a
 * stream.
 */
export async function streams(
  t: Target,
  path: string,
  body: string,
  opts: { concurrency: number; rounds: number; spreadMs?: number; headers?: Record<string, string>; durationMs?: number; limitMs?: number },
): Promise<StreamsResult> {
  const bytes = postBytes(t.url, path, body, { ...t.headers, ...opts.headers });
  const ttft: number[] = [];
  const gaps: number[] = [];
  let errors = 0;
  let completed = 0;
  let received = 0;
  const spread = opts.spreadMs ?? 0;
  const started = performance.now();
  const deadline = opts.durationMs === undefined ? Number.POSITIVE_INFINITY : started + opts.durationMs;
  const planned = opts.durationMs ?? 0;
  const phase = new Phase(t, opts.limitMs ?? spread + planned + PHASE_GRACE_MS);
  const client = async (i: number) => {
    // the load's schedule: client i starts its first stream i/concurrency into the spread
    if (spread > 0) await sleep((i * spread) / opts.concurrency);
    let c: RawConnection;
    try {
      c = await phase.connect();
    } catch {
      errors++;
      return;
    }
    for (let r = 0; r < opts.rounds && (r === 0 || performance.now() < deadline); r++) {
      try {
        const res = await c.request(bytes);
        if (res.status !== 200) {
          errors++;
          continue;
        }
        ttft.push(res.firstByteMs);
        gaps.push(res.maxGapMs);
        received += res.bodyBytes;
        completed++;
      } catch {
        errors++;
        return;
      }
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, (_, i) => client(i)));
  phase.end();
  return { streams: completed + errors, completed, errors, ttftMs: summarize(ttft), gapMs: summarize(gaps), bytes: received };
}
