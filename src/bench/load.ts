// Load generators for benchmarks, on raw keep-alive connections (raw-client.ts). Every
// loop is bounded in count and in time. Each generator measures the same way whatever
// the target, so a run against the backend directly and one through the proxy compare
// like for like.

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

function connect(t: Target): Promise<RawConnection> {
  const { host, port } = hostPort(t.url);
  return RawConnection.open(host, port);
}

/** Closed loop: `concurrency` connections, each sending its next request when the last one ended. */
export async function closedLoop(
  t: Target,
  path: string,
  body: string,
  opts: { concurrency: number; durationMs: number; maxRequests: number },
): Promise<ThroughputResult> {
  const bytes = postBytes(t.url, path, body, t.headers);
  const conns = await Promise.all(Array.from({ length: opts.concurrency }, () => connect(t)));
  const latencies: number[] = [];
  let errors = 0;
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
  for (const c of conns) c.close();
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
export async function openLoop(t: Target, path: string, body: string, opts: { rps: number; durationMs: number }): Promise<OpenLoopResult> {
  const bytes = postBytes(t.url, path, body, t.headers);
  const total = Math.floor((opts.rps * opts.durationMs) / 1000);
  const interval = 1000 / opts.rps;
  const idle: RawConnection[] = await Promise.all(Array.from({ length: 8 }, () => connect(t)));
  const all = [...idle];
  const latencies: number[] = [];
  let errors = 0;
  const inflight: Promise<void>[] = [];
  const send = async (scheduled: number) => {
    let c = idle.pop();
    if (!c) {
      c = await connect(t);
      all.push(c);
    }
    try {
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
      if (next >= total) resolve();
      else setTimeout(tick, Math.max(0, started + next * interval - performance.now()));
    };
    tick();
  });
  await Promise.all(inflight);
  for (const c of all) c.close();
  return { offeredRps: opts.rps, sent: total, errors, latencyMs: summarize(latencies) };
}

export interface StreamsResult {
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
 * `concurrency` clients, each on its own connection running `rounds` streams back to
 * back. With `spreadMs` the clients start spread over that time (steady load: streams
 * begin and end at different moments, as with real users); with 0 they all start at
 * once (a burst). TTFT = time to the first body byte that carries content; gap = the
 * longest pause between arrivals within a stream.
 */
export async function streams(
  t: Target,
  path: string,
  body: string,
  opts: { concurrency: number; rounds: number; spreadMs?: number; headers?: Record<string, string> },
): Promise<StreamsResult> {
  const bytes = postBytes(t.url, path, body, { ...t.headers, ...opts.headers });
  const ttft: number[] = [];
  const gaps: number[] = [];
  let errors = 0;
  let completed = 0;
  let received = 0;
  const spread = opts.spreadMs ?? 0;
  const client = async (i: number) => {
    if (spread > 0) await Bun.sleep((i * spread) / opts.concurrency);
    let c: RawConnection;
    try {
      c = await connect(t);
    } catch {
      errors += opts.rounds;
      return;
    }
    for (let r = 0; r < opts.rounds; r++) {
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
        errors += opts.rounds - r;
        return;
      }
    }
    c.close();
  };
  await Promise.all(Array.from({ length: opts.concurrency }, (_, i) => client(i)));
  return { streams: opts.concurrency * opts.rounds, completed, errors, ttftMs: summarize(ttft), gapMs: summarize(gaps), bytes: received };
}
