// Load generators for benchmarks, on Bun's fetch (keep-alive connections). Every loop is
// bounded in count and in time. Each generator measures the same way whatever the target,
// so a run against the backend directly and one through the proxy compare like for like.

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

function post(t: Target, path: string, body: string, extra?: Record<string, string>): Promise<Response> {
  return fetch(t.url + path, { method: "POST", headers: { "content-type": "application/json", ...t.headers, ...extra }, body });
}

/** Closed loop: `concurrency` workers, each sending its next request when the last one ended. */
export async function closedLoop(
  t: Target,
  path: string,
  body: string,
  opts: { concurrency: number; durationMs: number; maxRequests: number },
): Promise<ThroughputResult> {
  const latencies: number[] = [];
  let errors = 0;
  let sent = 0;
  const started = performance.now();
  const deadline = started + opts.durationMs;
  const worker = async () => {
    while (performance.now() < deadline && sent < opts.maxRequests) {
      sent++;
      const t0 = performance.now();
      try {
        const res = await post(t, path, body);
        await res.arrayBuffer();
        if (res.ok) latencies.push(performance.now() - t0);
        else errors++;
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, worker));
  const seconds = (performance.now() - started) / 1000;
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
 * omission, as wrk2 does it).
 */
export async function openLoop(t: Target, path: string, body: string, opts: { rps: number; durationMs: number }): Promise<OpenLoopResult> {
  const total = Math.floor((opts.rps * opts.durationMs) / 1000);
  const interval = 1000 / opts.rps;
  const latencies: number[] = [];
  let errors = 0;
  const inflight: Promise<void>[] = [];
  const started = performance.now();
  let next = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      while (next < total && started + next * interval <= now) {
        const scheduled = started + next * interval;
        next++;
        inflight.push(
          post(t, path, body)
            .then(async (res) => {
              await res.arrayBuffer();
              if (res.ok) latencies.push(performance.now() - scheduled);
              else errors++;
            })
            .catch(() => {
              errors++;
            }),
        );
      }
      if (next >= total) resolve();
      else setTimeout(tick, Math.max(0, started + next * interval - performance.now()));
    };
    tick();
  });
  await Promise.all(inflight);
  return { offeredRps: opts.rps, sent: total, errors, latencyMs: summarize(latencies) };
}

export interface StreamsResult {
  streams: number;
  completed: number;
  errors: number;
  ttftMs: Summary;
  /** Longest pause between two chunks of one stream. */
  gapMs: Summary;
  /** Total bytes received, to tell complete streams from cut ones. */
  bytes: number;
}

/**
 * `concurrency` clients, each running `rounds` streams back to back. With `spreadMs`
 * the clients start spread over that time (steady load: streams begin and end at
 * different moments, as with real users); with 0 they all start at once (a burst).
 * TTFT = time to the first chunk that carries content; gap = the longest pause between
 * chunks within a stream.
 */
export async function streams(
  t: Target,
  path: string,
  body: string,
  opts: { concurrency: number; rounds: number; spreadMs?: number; headers?: Record<string, string> },
): Promise<StreamsResult> {
  const ttft: number[] = [];
  const gaps: number[] = [];
  let errors = 0;
  let completed = 0;
  let bytes = 0;
  const one = async () => {
    const t0 = performance.now();
    try {
      const res = await post(t, path, body, opts.headers);
      if (!res.ok || !res.body) {
        errors++;
        await res.arrayBuffer();
        return;
      }
      let first = -1;
      let last = 0;
      let maxGap = 0;
      for await (const chunk of res.body) {
        const now = performance.now();
        // the SSE comment that flushes headers early carries no content
        if (first < 0 && !(chunk.byteLength === 3 && chunk[0] === 58)) {
          first = now - t0;
          last = now;
        } else if (first >= 0) {
          maxGap = Math.max(maxGap, now - last);
          last = now;
        }
        bytes += chunk.byteLength;
      }
      if (first >= 0) ttft.push(first);
      gaps.push(maxGap);
      completed++;
    } catch {
      errors++;
    }
  };
  const spread = opts.spreadMs ?? 0;
  const client = async (i: number) => {
    if (spread > 0) await Bun.sleep((i * spread) / opts.concurrency);
    for (let r = 0; r < opts.rounds; r++) await one();
  };
  await Promise.all(Array.from({ length: opts.concurrency }, (_, i) => client(i)));
  return { streams: opts.concurrency * opts.rounds, completed, errors, ttftMs: summarize(ttft), gapMs: summarize(gaps), bytes };
}
