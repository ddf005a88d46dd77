// Many concurrent streams from a child process with Bun's fetch cap lifted (see
// stream-swarm-client.ts for why a child).

import { fileURLToPath } from "node:url";

export interface SwarmJob {
  url: string;
  count: number;
  body: string;
  /** Request i is sent with x-request-id `${idPrefix}${i}`. */
  idPrefix: string;
  headers?: Record<string, string>;
  timeoutMs: number;
}

export interface SwarmResult {
  id: string;
  status: number;
  /** The generated text of the stream. */
  text: string;
  /** The stream ended with data: [DONE]. */
  done: boolean;
  /** The stream carried a "usage" member anywhere. */
  usageSeen: boolean;
  error: string | null;
}

const CLIENT = fileURLToPath(new URL("./stream-swarm-client.ts", import.meta.url));

export async function runSwarm(job: SwarmJob): Promise<SwarmResult[]> {
  const proc = Bun.spawn([process.execPath, CLIENT, JSON.stringify(job)], {
    env: { ...process.env, BUN_CONFIG_MAX_HTTP_REQUESTS: "4096" },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0) throw new Error(`stream swarm exited ${code}: ${err}`);
  return JSON.parse(out) as SwarmResult[];
}
