// Streamed answers under node:http: a Web stream of highWaterMark 0, fed by the source
// one chunk per read of the server (node-response.ts), so a slow client slows the
// backend's reads instead of filling memory.

import type { BodySink, BodySource } from "../edges/types.ts";

export function streamBody(source: BodySource): ReadableStream<Uint8Array> {
  /** The source's write waiting for the next read. */
  let wake: (() => void) | null = null;
  let gone = false;
  const resume = () => {
    const w = wake;
    wake = null;
    w?.();
  };
  return new ReadableStream<Uint8Array>(
    {
      start(c) {
        const sink: BodySink = {
          write(chunk) {
            if (gone) return;
            c.enqueue(chunk);
            if ((c.desiredSize ?? 0) > 0) return;
            return new Promise<void>((r) => (wake = r));
          },
        };
        // not awaited: start() must return for reads to begin
        void source.pump(sink).then(
          () => {
            if (!gone) c.close();
          },
          (err: unknown) => {
            if (!gone) c.error(err);
          },
        );
      },
      pull: resume,
      cancel() {
        if (gone) return;
        gone = true;
        source.cancel();
        resume();
      },
    },
    { highWaterMark: 0 },
  );
}
