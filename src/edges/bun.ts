// Bun's edges: Bun.serve, Bun's fetch, bun:sqlite, Web Workers, Bun's hashing and ids,
// and bench's Bun.connect and Bun.spawn.

import { startServer } from "../server/bun-server.ts";
import { streamBody } from "../server/stream-body-bun.ts";
import { ensureStartEnv } from "../runtime/start-env-bun.ts";
import { probeConnect, upstreamFetch } from "../proxy/upstream-bun.ts";
import { openBunSqlite } from "../store/sqlite-bun.ts";
import type { Edges, Thread, ThreadParent, ThreadScript } from "./types.ts";
import { bunBenchTools } from "../bench/tools-bun.ts";

/**
 * A worker's script. In the executable each is an entry point of the build
 * (scripts/build.ts), found by its path from the project root; from the sources, the
 * .ts file itself.
 */
const SCRIPTS: Record<ThreadScript, string> = { metering: "src/metering/usage-worker.ts" };

function scriptUrl(script: ThreadScript): string {
  if (import.meta.url.includes("/$bunfs/")) return `./${SCRIPTS[script]}`;
  return new URL(`../../${SCRIPTS[script]}`, import.meta.url).href;
}

/**
 * Said by a worker once it listens. A Bun worker drops messages that arrive before its
 * onmessage is set, and a worker's module may await (src/edges/edges.ts does) before
 * it gets there: until this arrives, messages wait on this side.
 */
const LISTENING = "llmproxy:thread-listening";

function startThread(script: ThreadScript): Thread {
  const worker = new Worker(scriptUrl(script));
  let waiting: unknown[] | null = [];
  let deliver: (m: unknown) => void = () => {};
  worker.onmessage = (e: MessageEvent) => {
    if (waiting && e.data === LISTENING) {
      for (const m of waiting) worker.postMessage(m);
      waiting = null;
      return;
    }
    deliver(e.data);
  };
  return {
    post: (m) => (waiting ? waiting.push(m) : worker.postMessage(m)),
    onMessage: (fn) => {
      deliver = fn;
    },
    onError: (fn) => {
      worker.onerror = (e: ErrorEvent) => fn(e.error instanceof Error ? e.error : new Error(e.message));
    },
    terminate: () => worker.terminate(),
  };
}

declare const self: { onmessage: ((e: MessageEvent) => void) | null; postMessage(m: unknown): void };

function threadParent(): ThreadParent {
  return {
    post: (m) => self.postMessage(m),
    onMessage: (fn) => {
      self.onmessage = (e: MessageEvent) => fn(e.data);
      self.postMessage(LISTENING);
    },
  };
}

export const runtimeEdges: Edges = {
  runtime: `bun ${Bun.version}`,
  startServer,
  serverHoldsHeaders: true,
  wholeResponse: (body, status, headers) => new Response(body, { status, headers }),
  streamBody,
  upstreamFetch,
  prepareDaemon: ensureStartEnv,
  probeConnect,
  loadSqlite: () => openBunSqlite,
  startThread,
  threadParent,
  // Measured on 40-character secrets: Bun.SHA256.hash ~140-170 ns, node:crypto hash()
  // ~220 ns, new Bun.CryptoHasher ~360 ns, createHash() ~440-690 ns.
  sha256Hex: (s) => Bun.SHA256.hash(s, "hex"),
  uuidv7: () => Bun.randomUUIDv7(),
  gcSoon: () => Bun.gc(false),
  benchTools: bunBenchTools,
};
