// The processes `llmproxy bench` starts: the fake backend and the proxy, each a child
// process of this same executable, on port 0 of 127.0.0.1. A child is ready when it
// prints its listening line (the mock on stdout, the daemon's "listening" log line on
// stderr): no polling, no port picked here that someone else could take first.

import type { BenchChild } from "../edges/types.ts";
import type { Cleanup } from "./cleanup.ts";
import { tools } from "./tools.ts";

/** Longest wait for a child's listening line before the benchmark gives up. */
const READY_TIMEOUT_MS = 15_000;
/** Bytes of a child's output kept to explain why it failed. */
const TAIL_BYTES = 4096;

/**
 * The argv that runs this llmproxy: the compiled executable itself, `node
 * dist/llmproxy.mjs`, or this runtime and cmd/llmproxy.ts from the sources.
 */
export function selfCommand(): string[] {
  return tools.selfCommand();
}

export interface Child {
  /** "llmproxy mock", "llmproxy serve": for messages. */
  name: string;
  pid: number;
  /** http://127.0.0.1:PORT from its listening line. */
  url: string;
  /** SIGTERM, then SIGKILL if it has not exited within graceMs. */
  stop(graceMs: number): Promise<void>;
  /** SIGKILL now (the bench is exiting and cannot wait). */
  kill(): void;
}

/** The last bytes of a stream, read to its end in the background (so the child never blocks on a full pipe). */
class Tail {
  private bytes = new Uint8Array(0);
  readonly done: Promise<void>;

  constructor(
    stream: AsyncIterable<Uint8Array>,
    private onText: ((text: string) => void) | null = null,
  ) {
    this.done = this.pump(stream);
  }

  /** Stop handing text to onText (once ready, only the tail is kept: cheaper). */
  detach(): void {
    this.onText = null;
  }

  text(): string {
    return new TextDecoder().decode(this.bytes).trim();
  }

  private async pump(stream: AsyncIterable<Uint8Array>): Promise<void> {
    const dec = new TextDecoder();
    try {
      for await (const chunk of stream) {
        this.onText?.(dec.decode(chunk, { stream: true }));
        if (chunk.length >= TAIL_BYTES) {
          // under load one chunk is many access-log lines: keep its end, copy nothing else
          this.bytes = chunk.slice(chunk.length - TAIL_BYTES);
          continue;
        }
        const joined = new Uint8Array(this.bytes.length + chunk.length);
        joined.set(this.bytes);
        joined.set(chunk, this.bytes.length);
        this.bytes = joined.length > TAIL_BYTES ? joined.slice(joined.length - TAIL_BYTES) : joined;
      }
    } catch {
      // the pipe broke: the child is gone; what was read is kept
    }
  }
}

/** The last few lines a child wrote, for an error message. */
function lastLines(text: string, n = 5): string {
  const lines = text.split("\n").filter((l) => l.trim() !== "");
  return lines.slice(-n).join("\n");
}

interface SpawnOptions {
  name: string;
  argv: string[];
  /** The stream the listening line is on. */
  readyOn: "stdout" | "stderr";
  /** The URL if this line is the listening line, else null. */
  ready(line: string): string | null;
  /** How long a stop waits after SIGTERM before SIGKILL. */
  graceMs: number;
}

/** Spawn, and register the child with `cleanup` at once: one interrupted while starting is stopped too. */
async function spawnChild(opts: SpawnOptions, cleanup: Cleanup): Promise<Child> {
  const proc: BenchChild = tools.spawn(opts.argv);
  const gone = (): boolean => proc.exitCode !== null || proc.signalCode !== null;
  const kill = (): void => {
    if (!gone()) proc.kill("SIGKILL");
  };
  const stop = async (graceMs: number): Promise<void> => {
    if (!gone()) proc.kill("SIGTERM");
    let t: ReturnType<typeof setTimeout> | undefined;
    const exited = await Promise.race([proc.exited.then(() => true), new Promise<boolean>((r) => (t = setTimeout(() => r(false), graceMs)))]);
    clearTimeout(t);
    if (!exited) {
      proc.kill("SIGKILL");
      await proc.exited;
    }
  };
  cleanup.add({ stop: () => stop(opts.graceMs), now: kill });
  let resolveUrl: (url: string) => void = () => {};
  const found = new Promise<string>((r) => (resolveUrl = r));
  let partial = "";
  const onText = (text: string): void => {
    partial += text;
    let nl: number;
    while ((nl = partial.indexOf("\n")) >= 0) {
      const url = opts.ready(partial.slice(0, nl));
      partial = partial.slice(nl + 1);
      if (url !== null) return resolveUrl(url);
    }
  };
  const out = new Tail(proc.stdout, opts.readyOn === "stdout" ? onText : null);
  const err = new Tail(proc.stderr, opts.readyOn === "stderr" ? onText : null);
  const output = (): string => lastLines([out.text(), err.text()].filter((t) => t !== "").join("\n"));

  let timer: ReturnType<typeof setTimeout> | undefined;
  const outcome = await Promise.race([
    found.then((url) => ({ url })),
    // the output is read to its end first: the line saying why it exited comes just before
    proc.exited.then(async (code) => {
      await Promise.all([out.done, err.done]);
      return { exited: code };
    }),
    new Promise<{ timedOut: true }>((r) => (timer = setTimeout(() => r({ timedOut: true }), READY_TIMEOUT_MS))),
  ]);
  clearTimeout(timer);
  if ("url" in outcome) {
    out.detach();
    err.detach();
  } else {
    kill();
    const why = "exited" in outcome ? `exited with code ${outcome.exited} before it was listening` : `printed no listening line within ${READY_TIMEOUT_MS / 1000} s`;
    const said = output();
    throw new Error(`${opts.name} ${why}${said ? `; its last output:\n${said}` : ""}`);
  }
  return { name: opts.name, pid: proc.pid, url: outcome.url, stop, kill };
}

/** A proxy's shutdown writes the last usage records and posts them: give it time (its own bound is 15 s). */
const PROXY_STOP_MS = 20_000;
const MOCK_STOP_MS = 5_000;

const MOCK_LINE = /^llmproxy mock listening on (http:\/\/\S+)$/;

/** `llmproxy mock` on a free port of 127.0.0.1. */
export function spawnMock(command: readonly string[], args: readonly string[], cleanup: Cleanup): Promise<Child> {
  const argv = [...command, "mock", "--listen", "127.0.0.1:0", "--quiet", ...args];
  const ready = (line: string): string | null => MOCK_LINE.exec(line.trim())?.[1] ?? null;
  return spawnChild({ name: "llmproxy mock", argv, readyOn: "stdout", ready, graceMs: MOCK_STOP_MS }, cleanup);
}

/** The daemon's "listening" log line (JSON); access-log lines come later and are never parsed. */
function proxyListening(line: string): string | null {
  if (!line.includes('"msg":"listening"')) return null;
  try {
    const v = JSON.parse(line) as { msg?: unknown; url?: unknown };
    return v.msg === "listening" && typeof v.url === "string" ? v.url : null;
  } catch {
    return null;
  }
}

/** `llmproxy serve -c FILE` (the config listens on 127.0.0.1:0). */
export function spawnProxy(command: readonly string[], configFile: string, cleanup: Cleanup): Promise<Child> {
  const argv = [...command, "serve", "-c", configFile];
  return spawnChild({ name: "llmproxy serve", argv, readyOn: "stderr", ready: proxyListening, graceMs: PROXY_STOP_MS }, cleanup);
}
