// Streamed answers under node:http. The server (node-server.ts) takes the source of a
// body made here and runs it straight into its socket: res.write per chunk, 'drain' for
// backpressure, no Web stream in between (a Web stream costs promises and a queue per
// chunk, which at 1000 open streams was most of the Node path's time to first token).
// For anyone else the body is a Web stream of highWaterMark 0, fed one chunk per read,
// so a slow reader slows the backend's reads instead of filling memory.

import type { BodySink, BodySource } from "../edges/types.ts";

/** Sources not started yet, by the body made for them. */
const untaken = new WeakMap<ReadableStream<Uint8Array>, BodySource>();

/**
 * The source behind a body that streamBody made and nobody has read: the caller runs it
 * (and must call its cancel() if its client leaves); the body itself is then never fed.
 * null for any other body.
 */
export function takeBodySource(body: ReadableStream<Uint8Array>): BodySource | null {
  const source = untaken.get(body);
  if (!source) return null;
  untaken.delete(body);
  return source;
}

export function streamBody(source: BodySource): ReadableStream<Uint8Array> {
  /** The source's write waiting for the next read. */
  let wake: (() => void) | null = null;
  let gone = false;
  const resume = () => {
    const w = wake;
    wake = null;
    w?.();
  };
  const stream: ReadableStream<Uint8Array> = new ReadableStream<Uint8Array>(
    {
      // started by the first read, not at construction: until then the server may take
      // the source instead (takeBodySource)
      pull(c) {
        if (!untaken.delete(stream)) return resume();
        const sink: BodySink = {
          write(chunk) {
            if (gone) return;
            c.enqueue(chunk);
            if ((c.desiredSize ?? 0) > 0) return;
            return new Promise<void>((r) => (wake = r));
          },
        };
        void source.pump(sink).then(
          () => {
            if (!gone) c.close();
          },
          (err: unknown) => {
            if (!gone) c.error(err);
          },
        );
      },
      cancel() {
        if (gone) return;
        gone = true;
        // a body cancelled before its first read never started its source
        if (untaken.delete(stream)) return;
        source.cancel();
        resume();
      },
    },
    { highWaterMark: 0 },
  );
  untaken.set(stream, source);
  return stream;
}
