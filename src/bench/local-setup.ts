// What `llmproxy bench` without --target measures: the fake backend(s) and the proxy in
// front of them, each its own process of this executable, the way an operator runs
// them, with metering on as in production: usage records to a SQLite file in a temp dir
// and (unless --no-webhook) to a webhook receiver in this process.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Strategy } from "../config/types.ts";
import { edges } from "../edges/edges.ts";
import { spawnMock, spawnProxy } from "./children.ts";
import type { Cleanup } from "./cleanup.ts";
import type { BenchTarget } from "./measure.ts";
import { benchProxyConfig } from "./proxy-config.ts";
import { openStore } from "../store/store.ts";

export interface LocalOptions {
  /** The argv that runs llmproxy (children are started from it). */
  command: readonly string[];
  /** Fake backends to start, or the URLs of backends already running (scripts/bench-peers.ts). */
  backends: number | readonly string[];
  strategy: Strategy;
  /** Keys in the store (0: auth none). */
  keys: number;
  webhook: boolean;
}

export interface LocalSetup {
  direct: BenchTarget;
  proxy: BenchTarget;
  proxyPid: number;
  /** One line for the table's heading. */
  description: string;
}

/** A store holding n keys; the secret of one of them, for the load. */
async function makeKeys(database: string, n: number): Promise<string> {
  const store = openStore(database);
  let secret = "";
  try {
    store.db.transaction(() => {
      for (let i = 0; i < n; i++) {
        const limits = { rpm: 10_000_000, tpm: 1_000_000_000, concurrency: 100_000 };
        const issued = store.keys.create({ name: `bench-${i}`, models: ["*"], limits });
        if (i === n - 1) secret = issued.secret;
      }
    });
  } finally {
    store.close();
  }
  return secret;
}

/** A webhook receiver that accepts every batch, as a fast consumer would. */
async function startWebhookReceiver(cleanup: Cleanup): Promise<string> {
  const server = await edges.startServer({
    host: "127.0.0.1",
    port: 0,
    // Bun.serve's default (what this receiver had when it was Bun-only); the proxy opens
    // a new connection for a batch after a quiet spell
    keepAliveSeconds: 10,
    handler: async (req) => {
      await req.arrayBuffer();
      return new Response("ok");
    },
    onError: () => new Response("webhook receiver error", { status: 500 }),
  });
  cleanup.add({ stop: () => server.stop(true), now: () => void server.stop(true) });
  return `http://127.0.0.1:${server.port}/usage`;
}

/** Start everything; each part is registered with `cleanup` as soon as it exists. */
export async function startLocal(opts: LocalOptions, cleanup: Cleanup): Promise<LocalSetup> {
  const dir = mkdtempSync(join(tmpdir(), "llmproxy-bench-"));
  const removeDir = () => rmSync(dir, { recursive: true, force: true });
  cleanup.add({ stop: async () => removeDir(), now: removeDir });
  // The config in a directory of its own: the daemon watches its config's directory,
  // and the database files beside it change all the time.
  mkdirSync(join(dir, "config"));
  mkdirSync(join(dir, "data"));
  const database = join(dir, "data", "usage.db");
  const secret = opts.keys > 0 ? await makeKeys(database, opts.keys) : null;
  const webhookUrl = opts.webhook ? await startWebhookReceiver(cleanup) : null;

  const mockArgs = ["--tokens", "16", "--delay", "0"];
  const urls =
    typeof opts.backends === "number"
      ? (await Promise.all(Array.from({ length: opts.backends }, () => spawnMock(opts.command, mockArgs, cleanup)))).map((m) => m.url)
      : [...opts.backends];
  const configFile = join(dir, "config", "llmproxy.yaml");
  writeFileSync(configFile, benchProxyConfig({ database, webhookUrl, backends: urls, strategy: opts.strategy, keys: secret !== null }));
  const proxy = await spawnProxy(opts.command, configFile, cleanup);

  const n = urls.length;
  const what = typeof opts.backends === "number" ? "llmproxy mock" : "backend";
  const backends = n === 1 ? `1 ${what}` : `${n} ${what}s (${opts.strategy}; direct = the first)`;
  const auth = secret !== null ? `, ${opts.keys} keys in the store, limits on` : "";
  const records = webhookUrl !== null ? "usage records to SQLite and a webhook" : "usage records to SQLite (no webhook)";
  return {
    direct: { name: "direct", url: urls[0]!, headers: {}, pids: [] },
    proxy: { name: "llmproxy", url: proxy.url, headers: secret !== null ? { authorization: `Bearer ${secret}` } : {}, pids: [proxy.pid] },
    proxyPid: proxy.pid,
    description: `llmproxy serve (pid ${proxy.pid}) in front of ${backends}${auth}; ${records}`,
  };
}
