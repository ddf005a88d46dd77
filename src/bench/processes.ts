// Starting the processes a benchmark measures: the fake backend and the proxy, each its
// own process on a free 127.0.0.1 port, the way an operator runs them. For profiling
// scripts; `llmproxy bench` itself starts its children with children.ts. Plain node:
// APIs, which Bun has too: nothing here is on a measured path.

import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, mkdtempSync, openSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

export interface Proc {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/** A free port on 127.0.0.1 (bound and released; the caller binds it right after). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function exited(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => proc.once("exit", () => resolve()));
}

async function waitHealthy(url: string, proc: ChildProcess, what: string): Promise<void> {
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
    await sleep(20);
  }
  throw new Error(`${what} did not answer ${url}/health within 15 s`);
}

function stopper(proc: ChildProcess): () => Promise<void> {
  return async () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGTERM");
    await exited(proc);
  };
}

function start(argv: string[], stderr: "inherit" | number): ChildProcess {
  const [file, ...args] = argv;
  if (file === undefined) throw new Error("empty command");
  return spawn(file, args, { stdio: ["ignore", "ignore", stderr] });
}

/** `llmproxy mock` on a free port. */
export async function startMock(command: string[], args: string[] = []): Promise<Proc> {
  const port = await freePort();
  const proc = start([...command, "mock", "--listen", `127.0.0.1:${port}`, "--quiet", ...args], "inherit");
  const url = `http://127.0.0.1:${port}`;
  await waitHealthy(url, proc, "llmproxy mock");
  return { url, pid: proc.pid ?? 0, stop: stopper(proc) };
}

/** `llmproxy serve` with the given config body (listen is set here); logs go to a file. */
export async function startProxy(command: string[], configBody: string): Promise<Proc & { logFile: string }> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "llmproxy-bench-"));
  const config = join(dir, "llmproxy.yaml");
  // not beside the config: the daemon watches the config's directory for edits
  const logFile = join(mkdtempSync(join(tmpdir(), "llmproxy-bench-log-")), "llmproxy.log");
  writeFileSync(config, `listen: 127.0.0.1:${port}\n${configBody}`);
  const log = openSync(logFile, "w");
  let proc: ChildProcess;
  try {
    proc = start([...command, "serve", "-c", config], log);
  } finally {
    // the child has its own copy of the descriptor
    closeSync(log);
  }
  const url = `http://127.0.0.1:${port}`;
  await waitHealthy(url, proc, "llmproxy serve");
  return { url, pid: proc.pid ?? 0, logFile, stop: stopper(proc) };
}
