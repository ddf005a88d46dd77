// Start the real llmproxy daemon as a separate process (the compiled binary when
// LLMPROXY_BIN is set, else the sources), with a config written to a temp dir, and
// watch its structured log: tests await log lines instead of sleeping.

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { llmproxyCommand } from "./spawn.ts";

export type LogLine = Record<string, unknown> & { msg: string; level: string };

export interface ProxyProcess {
  /** http://127.0.0.1:PORT */
  url: string;
  proc: Subprocess<"ignore", "pipe", "pipe">;
  dir: string;
  configPath: string;
  /** Every JSON log line so far. */
  logs: LogLine[];
  /** Raw stderr lines that were not JSON. */
  rawStderr: string[];
  stdout(): string;
  /** The first log line (past or future) matching predicate. */
  waitForLog(predicate: (l: LogLine) => boolean, what?: string): Promise<LogLine>;
  /** The next log line from now on matching predicate. */
  nextLog(predicate: (l: LogLine) => boolean, what?: string): Promise<LogLine>;
  /** Access-log lines ("request") so far. */
  requests(): LogLine[];
  /** Wait until the access log holds n lines, then return them. */
  waitForRequests(n: number): Promise<LogLine[]>;
  /** The access-log line (past or future) of the request with this id. */
  accessLine(requestId: string): Promise<LogLine>;
  signal(sig: NodeJS.Signals): void;
  /** SIGTERM (by default) and wait for exit; returns the exit code. */
  stop(sig?: NodeJS.Signals): Promise<number>;
}

/** Longest wait for a log line before the test fails (a bound, not a sleep). */
const WAIT_MS = 15_000;

export interface StartOptions {
  /** YAML text; `listen` (127.0.0.1:0) and `auth: none` are added when absent. */
  config: string;
  env?: Record<string, string>;
  /** Extra args after `serve -c FILE`. */
  args?: string[];
  /** Keep the temp dir (the test removes it). */
  dir?: string;
}

export async function startProxy(opts: StartOptions): Promise<ProxyProcess> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), "llmproxy-e2e-"));
  const configPath = join(dir, "llmproxy.yaml");
  let yaml = /^listen:/m.test(opts.config) ? opts.config : `listen: 127.0.0.1:0\n${opts.config}`;
  // Most tests are about something other than keys: they run the gateway open unless
  // their config says otherwise (the default, auth: keys, is tested in auth-*.test.ts).
  if (!/^auth:/m.test(yaml)) yaml = `auth: none\n${yaml}`;
  writeFileSync(configPath, yaml);
  const proc = Bun.spawn(llmproxyCommand(["serve", "-c", configPath, ...(opts.args ?? [])]), {
    cwd: dir,
    env: { ...process.env, ...opts.env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const logs: LogLine[] = [];
  const rawStderr: string[] = [];
  let out = "";
  const waiters: { pred: (l: LogLine) => boolean; resolve: (l: LogLine) => void }[] = [];
  const onLine = (line: string) => {
    if (!line) return;
    let parsed: LogLine | null = null;
    try {
      const v = JSON.parse(line) as LogLine;
      if (v && typeof v === "object" && typeof v.msg === "string") parsed = v;
    } catch {
      parsed = null;
    }
    if (!parsed) {
      rawStderr.push(line);
      return;
    }
    logs.push(parsed);
    for (let i = waiters.length - 1; i >= 0; i--) {
      if (waiters[i]!.pred(parsed)) {
        waiters[i]!.resolve(parsed);
        waiters.splice(i, 1);
      }
    }
  };
  const pump = async (stream: ReadableStream<Uint8Array>, sink: (s: string) => void) => {
    const dec = new TextDecoder();
    for await (const chunk of stream) sink(dec.decode(chunk, { stream: true }));
  };
  let errBuf = "";
  const stderrDone = pump(proc.stderr, (s) => {
    errBuf += s;
    let nl: number;
    while ((nl = errBuf.indexOf("\n")) >= 0) {
      onLine(errBuf.slice(0, nl));
      errBuf = errBuf.slice(nl + 1);
    }
  });
  const stdoutDone = pump(proc.stdout, (s) => (out += s));

  const nextLog = (pred: (l: LogLine) => boolean, what = "log line"): Promise<LogLine> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`timed out waiting for ${what}; stderr so far:\n${[...rawStderr, ...logs.map((l) => JSON.stringify(l))].join("\n")}`));
      }, WAIT_MS);
      waiters.push({
        pred,
        resolve: (l) => {
          clearTimeout(timer);
          resolve(l);
        },
      });
      // Only once stderr is read to its end: a line written just before the exit (such as
      // "stopped") may still be in the pipe when the exit is seen.
      void Promise.all([proc.exited, stderrDone.catch(() => {})]).then(([code]) => {
        clearTimeout(timer);
        reject(new Error(`llmproxy exited (${code}) while waiting for ${what}; stderr:\n${[...rawStderr, ...logs.map((l) => JSON.stringify(l))].join("\n")}`));
      });
    });
  const waitForLog = (pred: (l: LogLine) => boolean, what?: string): Promise<LogLine> => {
    const seen = logs.find(pred);
    return seen ? Promise.resolve(seen) : nextLog(pred, what);
  };
  const listening = await waitForLog((l) => l.msg === "listening", "the listening line");
  const url = String(listening.url);
  const requests = () => logs.filter((l) => l.msg === "request");
  const p: ProxyProcess = {
    url,
    proc,
    dir,
    configPath,
    logs,
    rawStderr,
    stdout: () => out,
    waitForLog,
    nextLog,
    requests,
    async waitForRequests(n) {
      while (requests().length < n) await nextLog((l) => l.msg === "request", `${n} access-log lines (have ${requests().length})`);
      return requests();
    },
    accessLine: (requestId) => waitForLog((l) => l.msg === "request" && l.request_id === requestId, `the access-log line of ${requestId}`),
    signal: (sig) => proc.kill(sig),
    async stop(sig = "SIGTERM") {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(sig);
      const code = await proc.exited;
      await Promise.all([stderrDone, stdoutDone]).catch(() => {});
      if (!opts.dir) rmSync(dir, { recursive: true, force: true });
      return code;
    },
  };
  return p;
}
