// What the benchmark sends, decided once from the flags: the requests, and each phase's
// size and bounds. Pure, so what a flag does to the load can be read and tested here.

export interface PlanOptions {
  /** Each phase's length. */
  durationMs: number;
  /** Connections of the throughput phase (closed loop). */
  concurrency: number;
  /** Offered requests per second of the latency phase (open loop). */
  rate: number;
  /** Stream clients of the stream phases. */
  streams: number;
  /** Streams held open at once in the last phase. */
  openStreams: number;
  model: string;
  /** The requests/s and latency phases stream their answers too (--stream). */
  stream?: boolean;
}

export interface StreamPhase {
  concurrency: number;
  /** At most this many streams per client... */
  rounds: number;
  /** ...and none started after this time. */
  durationMs: number;
  spreadMs: number;
  /** The fake backend's pace (x-mock-*; a real backend ignores them). */
  tokens: number;
  tokenGapMs: number;
  headers: Record<string, string>;
}

export interface Plan {
  durationMs: number;
  chatBody: string;
  streamBody: string;
  warmup: { concurrency: number; durationMs: number; maxRequests: number };
  throughput: { concurrency: number; durationMs: number; maxRequests: number };
  latency: { rps: number; durationMs: number };
  streams: StreamPhase;
  burst: StreamPhase;
  open: StreamPhase;
}

/** Requests per connection per second this client can hardly exceed: bounds the count of a closed loop. */
const MAX_RPS_PER_CONNECTION = 50_000;

function streamPhase(p: Omit<StreamPhase, "headers">): StreamPhase {
  return { ...p, headers: { "x-mock-tokens": String(p.tokens), "x-mock-delay-ms": String(p.tokenGapMs) } };
}

export function makePlan(o: PlanOptions): Plan {
  const d = o.durationMs;
  const seconds = Math.max(d / 1000, 0.001);
  return {
    durationMs: d,
    chatBody: JSON.stringify({ model: o.model, messages: [{ role: "user", content: "Say hello in one short sentence." }], max_tokens: 16, ...(o.stream ? { stream: true } : {}) }),
    // max_tokens bounds what a real backend streams (the fake one sends x-mock-tokens)
    streamBody: JSON.stringify({ model: o.model, messages: [{ role: "user", content: "Count to twenty." }], max_tokens: 64, stream: true }),
    // JIT and connection pools warm, on both paths, before anything is measured
    warmup: { concurrency: 16, durationMs: Math.min(1000, d), maxRequests: 20_000 },
    throughput: { concurrency: o.concurrency, durationMs: d, maxRequests: Math.ceil(MAX_RPS_PER_CONNECTION * seconds * Math.min(o.concurrency, 64)) },
    latency: { rps: o.rate, durationMs: d },
    // Steady: clients start spread over 100 ms and run 16-token streams (5 ms apart, ~80
    // ms each) back to back for the phase, so streams begin and end at different moments.
    streams: streamPhase({ concurrency: o.streams, rounds: Math.max(3, Math.ceil(d / 10)), durationMs: d, spreadMs: 100, tokens: 16, tokenGapMs: 5 }),
    // Burst: every client starts its stream in the same millisecond, a few times over.
    burst: streamPhase({ concurrency: o.streams, rounds: Math.min(10, Math.max(2, Math.round(d / 500))), durationMs: d, spreadMs: 0, tokens: 16, tokenGapMs: 5 }),
    // Open streams: all started at once and all open together (40 tokens, 1 s at the
    // default duration: long enough for every connection to be open before any ends).
    open: streamPhase({ concurrency: o.openStreams, rounds: 1, durationMs: d, spreadMs: 0, tokens: 40, tokenGapMs: Math.min(25, Math.max(5, Math.round(d / 200))) }),
  };
}

/**
 * The chat completions path under a base URL: http://h:8080 and http://h:8080/v1 (the
 * form OpenAI clients take) both mean /v1/chat/completions; a path prefix is kept.
 */
export function chatPath(baseUrl: string): string {
  const path = new URL(baseUrl).pathname.replace(/\/+$/, "");
  return path.endsWith("/v1") ? `${path}/chat/completions` : `${path}/v1/chat/completions`;
}
