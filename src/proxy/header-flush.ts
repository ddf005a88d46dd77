// Bun.serve holds a streamed answer's header section back until the first body byte
// (oven-sh/bun#33660; edges.serverHoldsHeaders, false under Node). A backend that sends
// its headers and then thinks (a long prefill) would leave the client without even a
// status line. When no event went out within FLUSH_MS, one SSE comment line does, which
// every SSE parser ignores.
//
// One timer serves every stream: a timer and a promise race per stream cost more than
// the rest of a short stream's setup. Streams are watched in the order they start, all
// with the same delay, so the Set's insertion order is also deadline order.

import type { BodySink } from "../edges/types.ts";

const FLUSH_MS = 50;
const SSE_COMMENT = new TextEncoder().encode(":\n\n");

interface Watched {
  sink: BodySink;
  at: number;
}

const watched = new Set<Watched>();
let timer: ReturnType<typeof setTimeout> | null = null;

function arm(now: number): void {
  const first = watched.values().next().value as Watched | undefined;
  if (!first) return;
  timer = setTimeout(fire, Math.max(0, first.at - now));
  // a stream in flight keeps the process up by itself; this timer must not
  timer.unref?.();
}

function fire(): void {
  timer = null;
  const now = performance.now();
  for (const w of watched) {
    if (w.at > now) break;
    watched.delete(w);
    void w.sink.write(SSE_COMMENT);
  }
  arm(now);
}

/** Watch a stream until its first byte: returns the call that says the first byte went out. */
export function watchFirstByte(sink: BodySink): () => void {
  const now = performance.now();
  const w: Watched = { sink, at: now + FLUSH_MS };
  watched.add(w);
  if (!timer) arm(now);
  return () => watched.delete(w);
}
