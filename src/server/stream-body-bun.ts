// Streamed answers under Bun.serve: a "direct" ReadableStream. Bun.serve calls its pull
// once; the source then writes each chunk straight to the socket. A pull-based stream
// costs a pull call, an enqueue and a read promise per chunk between the backend's read
// and the client's write, and keeps the chunk in a queue meanwhile: measured on 64
// concurrent streams, that machinery was most of the proxy's work per streamed request.

import type { BodySink, BodySource } from "../edges/types.ts";

interface DirectController {
  write(data: Uint8Array): number | Promise<number>;
  close(error?: Error): void;
}

export function streamBody(source: BodySource): ReadableStream<Uint8Array> {
  let started = false;
  let gone = false;
  const underlying = {
    type: "direct",
    pull(c: DirectController): Promise<void> | void {
      // A reader other than the server (getReader()) calls pull again once the first
      // call settled: the body was written whole by then.
      if (started) return c.close();
      started = true;
      const sink: BodySink = {
        write(chunk) {
          if (gone) return;
          const w = c.write(chunk);
          // a number: taken; a promise: the client is behind, wait for it to drain
          return typeof w === "number" ? undefined : w;
        },
      };
      return source.pump(sink).then(
        () => {
          if (!gone) c.close();
        },
        (err: unknown) => {
          if (!gone) c.close(err instanceof Error ? err : new Error(String(err)));
        },
      );
    },
    cancel() {
      if (gone) return;
      gone = true;
      source.cancel();
    },
  };
  return new ReadableStream(underlying as unknown as ConstructorParameters<typeof ReadableStream<Uint8Array>>[0]);
}
