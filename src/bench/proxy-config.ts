// The config `llmproxy bench` runs the proxy with: as in production (usage records to a
// SQLite file, and to a webhook unless told otherwise, an access log line per request),
// every model routed to the fake backends, no retries (a benchmark counts failures, it
// does not hide them).

import type { Strategy } from "../config/types.ts";

export const STRATEGIES: readonly Strategy[] = ["round_robin", "weighted", "least_inflight", "latency", "priority"];

export interface BenchProxyConfig {
  database: string;
  /** The receiver's URL, or null for records to the database only. */
  webhookUrl: string | null;
  /** The fake backends' URLs; the proxy balances over all of them. */
  backends: readonly string[];
  strategy: Strategy;
  /** Keys in the store: requests carry one, and limits are checked at every scope. */
  keys: boolean;
}

/** Limits high enough never to refuse the benchmark's load, low enough to be checked. */
const GLOBAL_LIMITS = "{ rpm: 100000000, tpm: 10000000000, concurrency: 100000 }";
/** Any value works: the bench's receiver does not check signatures. */
const WEBHOOK_SECRET = "bench-secret-0123456789";

const yamlString = (s: string): string => JSON.stringify(s);

export function benchProxyConfig(c: BenchProxyConfig): string {
  const lines = ["listen: 127.0.0.1:0"];
  if (c.keys) lines.push("auth: keys", "limits:", `  global: ${GLOBAL_LIMITS}`);
  else lines.push("auth: none");
  lines.push(`database: ${yamlString(c.database)}`, "metering:", "  flush_interval: 1s");
  if (c.webhookUrl !== null) lines.push(`  webhook: { url: ${yamlString(c.webhookUrl)}, secret: ${WEBHOOK_SECRET}, batch: 500 }`);
  lines.push("backends:");
  c.backends.forEach((url, i) => lines.push(`  - { name: mock${i}, provider: openai, url: ${yamlString(url)} }`));
  const targets = c.backends.map((_, i) => `{ backend: mock${i} }`).join(", ");
  lines.push("models:", `  - { name: "*", strategy: ${c.strategy}, targets: [${targets}] }`);
  lines.push("retries: { attempts: 0 }", "log: { level: info, access: true }");
  return lines.join("\n") + "\n";
}
