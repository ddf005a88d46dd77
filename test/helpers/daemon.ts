// Helpers for the daemon and CLI end-to-end tests: run a command to its end, start the
// demo and read its banner, save a config the ways editors do, read an SSE stream one
// event at a time, read a metric, and tell whether a port still accepts connections.
// Everything awaits an event (process exit, a line, a chunk, a socket answer); nothing
// sleeps.

import { mkdtempSync, renameSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import type { Subprocess } from "bun";
import { llmproxyCommand } from "./spawn.ts";

/** A fresh, empty, uniquely named temp dir (tests run in parallel with other engineers'). */
export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `llmproxy-${prefix}-`));
}

/** process.env without the variables that would change which config llmproxy reads. */
export function cleanEnv(extra: Record<string, string | undefined> = {}): Record<string, string> {
  const env: Record<string, string | undefined> = { ...process.env, LLMPROXY_CONFIG: undefined, ...extra };
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined));
}

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run `llmproxy ...args` to its exit. */
export async function runCli(args: string[], opts: { cwd?: string; env?: Record<string, string | undefined> } = {}): Promise<CliRun> {
  const proc = Bun.spawn(llmproxyCommand(args), {
    cwd: opts.cwd ?? tmpdir(),
    env: cleanEnv(opts.env),
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}

export interface DemoProcess {
  proc: Subprocess<"ignore", "pipe", "pipe">;
  /** http://127.0.0.1:PORT, parsed from the banner. */
  url: string;
  /** The curl command line of the banner, exactly as printed (leading blanks removed). */
  curlLine: string;
  stdout(): string;
  stderr(): string;
  /** Send sig (SIGTERM by default) and wait for the exit code. */
  stop(sig?: NodeJS.Signals): Promise<number>;
}

/** Start `llmproxy serve --demo ...args` and wait until its banner is complete on stdout. */
export async function startDemo(opts: { cwd?: string; args?: string[]; env?: Record<string, string | undefined> } = {}): Promise<DemoProcess> {
  const proc = Bun.spawn(llmproxyCommand(["serve", "--demo", ...(opts.args ?? ["--listen", "127.0.0.1:0"])]), {
    cwd: opts.cwd ?? tmpdir(),
    env: cleanEnv(opts.env),
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  let out = "";
  let err = "";
  const dec = new TextDecoder();
  const errDone = (async () => {
    const d = new TextDecoder();
    for await (const chunk of proc.stderr) err += d.decode(chunk, { stream: true });
  })();
  const reader = proc.stdout.getReader();
  // The banner ends with the "Stop with Ctrl-C." line.
  while (!/Stop with Ctrl-C\.\n/.test(out)) {
    const { value, done } = await reader.read();
    if (done) {
      await errDone;
      throw new Error(`llmproxy serve --demo ended before printing its banner (exit ${await proc.exited}); stdout:\n${out}\nstderr:\n${err}`);
    }
    out += dec.decode(value, { stream: true });
  }
  const outDone = (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      out += dec.decode(value, { stream: true });
    }
  })();
  const url = /served at (http:\/\/\S+)/.exec(out)?.[1];
  const curlLine = out
    .split("\n")
    .map((l) => l.trim())
    .find((l) => l.startsWith("curl "));
  if (!url || !curlLine) throw new Error(`no URL or curl line in the demo banner:\n${out}`);
  return {
    proc,
    url,
    curlLine,
    stdout: () => out,
    stderr: () => err,
    async stop(sig = "SIGTERM") {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(sig);
      const code = await proc.exited;
      await Promise.all([outDone, errDone]).catch(() => {});
      return code;
    },
  };
}

/** Rewrite the file in place (same inode): what `echo > file` and many editors do. */
export function saveInPlace(file: string, text: string): void {
  writeFileSync(file, text);
}

/** Write a temp file beside it, then rename it over the file (new inode): what vim does. */
export function saveByRename(file: string, text: string): void {
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.swp`);
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

/** One server-sent event's data; "[DONE]" included as is. */
export interface SseStream {
  /** The next data payload, or null when the body ended (or was cut). */
  next(): Promise<string | null>;
  /** Read to the end: every payload from now on, and how the body ended. */
  rest(): Promise<{ data: string[]; error: string | null }>;
  /** Every payload read so far. */
  readonly data: string[];
  /** The read error that ended the body, if it was cut rather than closed. */
  readonly error: string | null;
}

export function readSse(res: Response): SseStream {
  if (!res.body) throw new Error("response has no body");
  const reader = res.body.getReader();
  const dec = new TextDecoder();
  let buf = "";
  let ended = false;
  const queue: string[] = [];
  const state = { data: [] as string[], error: null as string | null };
  const pull = async (): Promise<void> => {
    try {
      const { value, done } = await reader.read();
      if (done) ended = true;
      else buf += dec.decode(value, { stream: true });
    } catch (err) {
      ended = true;
      state.error = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    }
    let sep: number;
    while ((sep = buf.indexOf("\n\n")) >= 0) {
      const block = buf.slice(0, sep);
      buf = buf.slice(sep + 2);
      for (const line of block.split("\n")) if (line.startsWith("data:")) queue.push(line.slice(5).trimStart());
    }
  };
  const next = async (): Promise<string | null> => {
    while (queue.length === 0 && !ended) await pull();
    const d = queue.shift();
    if (d === undefined) return null;
    state.data.push(d);
    return d;
  };
  return {
    next,
    async rest() {
      const data: string[] = [];
      for (let d = await next(); d !== null; d = await next()) data.push(d);
      return { data, error: state.error };
    },
    get data() {
      return state.data;
    },
    get error() {
      return state.error;
    },
  };
}

/** The text of chat-completion chunks' content deltas. */
export function chatText(data: string[]): string {
  let text = "";
  for (const d of data) {
    if (d === "[DONE]") continue;
    const chunk = JSON.parse(d) as { choices?: { delta?: { content?: string } }[] };
    text += chunk.choices?.[0]?.delta?.content ?? "";
  }
  return text;
}

/** A sample's value in Prometheus text format; 0 when the series is not there (yet). */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = m[3] ? m[3].split(",") : [];
    if (want.every((w) => have.includes(w))) return Number(m[4]);
  }
  return 0;
}

/** Whether a new TCP connection to the URL's host:port is accepted or refused. */
export function tryConnect(url: string): Promise<"accepted" | "refused"> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const sock = connect({ host: hostname, port: Number(port) });
    sock.once("connect", () => {
      sock.destroy();
      resolve("accepted");
    });
    sock.once("error", (err: NodeJS.ErrnoException) => {
      sock.destroy();
      if (err.code === "ECONNREFUSED") resolve("refused");
      else reject(err);
    });
  });
}

export interface IdleConnection {
  /** Resolves when the server closed the connection. */
  closed: Promise<void>;
  destroy(): void;
}

/**
 * A keep-alive connection that answered one GET /health and now sits idle, as a
 * client's connection pool holds it between requests.
 */
export function openIdleConnection(url: string): Promise<IdleConnection> {
  const { hostname, port, host } = new URL(url);
  return new Promise((resolve, reject) => {
    const sock = connect({ host: hostname, port: Number(port) });
    let closedResolve: () => void = () => {};
    const closed = new Promise<void>((r) => (closedResolve = r));
    sock.once("close", () => closedResolve());
    let buf = "";
    let answered = false;
    sock.on("data", (d: Buffer) => {
      if (answered) return;
      buf += d.toString("latin1");
      const end = buf.indexOf("\r\n\r\n");
      if (end < 0) return;
      const len = Number(/^content-length:\s*(\d+)/im.exec(buf.slice(0, end))?.[1] ?? "0");
      if (buf.length - end - 4 < len) return;
      answered = true;
      if (!buf.startsWith("HTTP/1.1 200")) reject(new Error(`GET /health answered: ${buf.split("\r\n")[0]}`));
      else resolve({ closed, destroy: () => sock.destroy() });
    });
    sock.once("error", reject);
    sock.once("connect", () => sock.write(`GET /health HTTP/1.1\r\nHost: ${host}\r\nConnection: keep-alive\r\n\r\n`));
  });
}
