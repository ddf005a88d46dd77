// Starting the processes a benchmark measures: the fake backend and the proxy, each its
// own process on a free 127.0.0.1 port, the way an operator runs them.

import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";

export interface Proc {
  url: string;
  pid: number;
  proc: Subprocess;
  stop(): Promise<void>;
}

/** A free port on 127.0.0.1 (bound and released; the caller binds it right after). */
export function freePort(): number {
  const s = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = s.port;
  s.stop(true);
  return port;
}

async function waitHealthy(url: string, proc: Subprocess, what: string): Promise<void> {
  const deadline = performance.now() + 15_000;
  while (performance.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`${what} exited with code ${proc.exitCode} before it was ready`);
    try {
      const res = await fetch(`${url}/health`);
      await res.arrayBuffer();
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await Bun.sleep(20);
  }
  throw new Error(`${what} did not answer ${url}/health within 15 s`);
}

function stopper(proc: Subprocess): () => Promise<void> {
  return async () => {
    if (proc.exitCode === null) proc.kill("SIGTERM");
    await proc.exited;
  };
}

/** `llmproxy mock` on a free port. */
export async function startMock(command: string[], args: string[] = []): Promise<Proc> {
  const port = freePort();
  const proc = Bun.spawn([...command, "mock", "--listen", `127.0.0.1:${port}`, "--quiet", ...args], { stdout: "ignore", stderr: "inherit" });
  const url = `http://127.0.0.1:${port}`;
  await waitHealthy(url, proc, "llmproxy mock");
  return { url, pid: proc.pid, proc, stop: stopper(proc) };
}

/** `llmproxy serve` with the given config body (listen is set here); logs go to a file. */
export async function startProxy(command: string[], configBody: string): Promise<Proc & { logFile: string }> {
  const port = freePort();
  const dir = mkdtempSync(join(tmpdir(), "llmproxy-bench-"));
  const config = join(dir, "llmproxy.yaml");
  // not beside the config: the daemon watches the config's directory for edits
  const logFile = join(mkdtempSync(join(tmpdir(), "llmproxy-bench-log-")), "llmproxy.log");
  writeFileSync(config, `listen: 127.0.0.1:${port}\n${configBody}`);
  const proc = Bun.spawn([...command, "serve", "-c", config], { stdout: "ignore", stderr: Bun.file(logFile) });
  const url = `http://127.0.0.1:${port}`;
  await waitHealthy(url, proc, "llmproxy serve");
  return { url, pid: proc.pid, proc, logFile, stop: stopper(proc) };
}
