// Node's edges: node:http, undici, better-sqlite3, worker_threads, node:crypto, and
// bench's node:net and node:child_process. Only in dist/llmproxy.mjs (scripts/build.ts),
// which Node runs; never loaded under Bun.

import * as nodeCrypto from "node:crypto";
import { parentPort, Worker } from "node:worker_threads";
import { startServer } from "../server/node-server.ts";
import { probeConnect, upstreamFetch } from "../proxy/upstream-node.ts";
import { loadNodeSqlite } from "../store/sqlite-node.ts";
import type { Edges, Thread, ThreadParent, ThreadScript } from "./types.ts";
import { nodeBenchTools } from "../bench/tools-node.ts";

/** Each worker script is a bundle of its own beside dist/llmproxy.mjs (scripts/build.ts). */
const BUNDLES: Record<ThreadScript, string> = { metering: "./usage-worker.mjs" };

function startThread(script: ThreadScript): Thread {
  // import.meta.url is dist/llmproxy.mjs here: the bundle this module is part of
  const worker = new Worker(new URL(BUNDLES[script], import.meta.url));
  return {
    post: (m) => worker.postMessage(m),
    onMessage: (fn) => {
      worker.on("message", fn);
    },
    onError: (fn) => {
      worker.on("error", fn);
    },
    terminate: () => void worker.terminate(),
  };
}

function threadParent(): ThreadParent {
  const port = parentPort;
  if (!port) throw new Error("threadParent() called outside a worker thread");
  return {
    post: (m) => port.postMessage(m),
    onMessage: (fn) => {
      port.on("message", fn);
    },
  };
}

// one-shot hash() from Node 20.12 (~2x faster than createHash); a namespace read, so an
// older Node that lacks it still loads this module
const hash = (nodeCrypto as { hash?: typeof nodeCrypto.hash }).hash;
const sha256Hex: (s: string) => string =
  typeof hash === "function" ? (s) => hash("sha256", s, "hex") : (s) => nodeCrypto.createHash("sha256").update(s).digest("hex");

/** RFC 9562 UUIDv7: 48 bits of Unix milliseconds, version, 74 random bits, variant. */
function uuidv7(): string {
  const b = nodeCrypto.randomBytes(16);
  const ms = Date.now();
  b.writeUIntBE(ms, 0, 6);
  b[6] = 0x70 | (b[6]! & 0x0f);
  b[8] = 0x80 | (b[8]! & 0x3f);
  const h = b.toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export const runtimeEdges: Edges = {
  runtime: `node ${process.versions.node}`,
  startServer,
  serverHoldsHeaders: false,
  upstreamFetch,
  // undici's Agent has no global cap on requests in flight (upstream-node.ts)
  prepareUpstream: () => {},
  probeConnect,
  loadSqlite: loadNodeSqlite,
  startThread,
  threadParent,
  sha256Hex,
  uuidv7,
  // V8 collects young garbage often and cheaply on its own; there is no non-blocking hint
  gcSoon: null,
  benchTools: nodeBenchTools,
};
