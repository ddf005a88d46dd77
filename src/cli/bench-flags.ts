// `llmproxy bench`'s flags, checked before anything starts: a value that does not parse
// or is out of range is invalid input (exit 1, naming the flag); a flag that does not
// apply to the mode asked for (--backends with --target, --key without it) is a command
// line that cannot be read as meant (exit 2). Pure, and tested as such.

import { STRATEGIES } from "../bench/proxy-config.ts";
import type { PlanOptions } from "../bench/plan.ts";
import type { Strategy } from "../config/types.ts";
import { CliError, EXIT } from "./exit.ts";
import { durationFlag, wholeNumberFlag } from "./flags.ts";

/** What commander hands over: strings as typed, and webhook false with --no-webhook. */
export interface BenchFlags {
  duration?: string;
  concurrency?: string;
  rate?: string;
  streams?: string;
  openStreams?: string;
  json?: boolean;
  stream?: boolean;
  model?: string;
  backends?: string;
  strategy?: string;
  keys?: string;
  webhook?: boolean;
  bin?: string;
  target?: string;
  key?: string;
  direct?: string;
  pid?: string;
}

export interface LocalMode {
  kind: "local";
  backends: number;
  strategy: Strategy;
  keys: number;
  webhook: boolean;
  /** Start the children from this executable instead of this one. */
  bin: string | null;
}

export interface TargetMode {
  kind: "target";
  target: string;
  /** A secret: never printed. */
  key: string | null;
  direct: string | null;
  pid: number | null;
}

/** The plan's options (the load), and how to run and print it. */
export interface BenchOptions extends PlanOptions {
  /** The requests/s and latency phases send streamed requests (read to their end). */
  stream: boolean;
  json: boolean;
  mode: LocalMode | TargetMode;
}

export const DEFAULTS = {
  duration: "5s",
  concurrency: 64,
  rate: 2000,
  streams: 64,
  openStreams: 1000,
  model: "bench",
  backends: 1,
  strategy: "round_robin" as Strategy,
  keys: 0,
} as const;

/**
 * Bounds that keep a typo from becoming a runaway load: each phase at most 10 minutes,
 * connections and streams well within a default file-descriptor limit of the machines
 * this runs on (each open stream is a socket here and two in a local proxy).
 */
const MIN_DURATION_MS = 50;
const MAX_DURATION_MS = 600_000;
const MAX_CONNECTIONS = 10_000;
const MAX_RATE = 1_000_000;

function inRange(flag: string, value: string | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const n = wholeNumberFlag(flag, value);
  if (n < min || n > max) throw new CliError(`${flag} must be ${min}..${max}, got "${value}"`, EXIT.FAILURE);
  return n;
}

function urlFlag(flag: string, value: string): string {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new CliError(`${flag}: bad URL "${value}": give http(s)://HOST[:PORT][/PATH]`, EXIT.FAILURE);
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") throw new CliError(`${flag}: "${value}" is not an http(s) URL`, EXIT.FAILURE);
  if (u.username || u.password) throw new CliError(`${flag}: put no credentials in the URL; pass the key with --key`, EXIT.FAILURE);
  return u.href.replace(/\/+$/, "");
}

/** Flags of one mode given in the other. */
function refuseMisplaced(f: BenchFlags, target: boolean): void {
  if (target) {
    const local = [
      ["--backends", f.backends],
      ["--strategy", f.strategy],
      ["--keys", f.keys],
      ["--bin", f.bin],
      ["--no-webhook", f.webhook === false ? true : undefined],
    ] as const;
    for (const [flag, v] of local) {
      if (v !== undefined) throw new CliError(`${flag} applies when bench starts its own proxy; with --target nothing is started`, EXIT.USAGE);
    }
  } else {
    const remote = [
      ["--key", f.key],
      ["--direct", f.direct],
      ["--pid", f.pid],
    ] as const;
    for (const [flag, v] of remote) {
      if (v !== undefined) throw new CliError(`${flag} needs --target URL (without it, bench starts its own proxy and backend)`, EXIT.USAGE);
    }
  }
}

export function benchOptions(f: BenchFlags): BenchOptions {
  const durationMs = durationFlag("--duration", f.duration ?? DEFAULTS.duration);
  if (durationMs < MIN_DURATION_MS || durationMs > MAX_DURATION_MS) {
    throw new CliError(`--duration must be between ${MIN_DURATION_MS}ms and ${MAX_DURATION_MS / 60_000}m per phase, got "${f.duration}"`, EXIT.FAILURE);
  }
  const concurrency = inRange("--concurrency", f.concurrency, DEFAULTS.concurrency, 1, MAX_CONNECTIONS);
  const rate = inRange("--rate", f.rate, DEFAULTS.rate, 1, MAX_RATE);
  const streams = inRange("--streams", f.streams, DEFAULTS.streams, 1, MAX_CONNECTIONS);
  const openStreams = inRange("--open-streams", f.openStreams, DEFAULTS.openStreams, 1, MAX_CONNECTIONS);
  const model = f.model ?? DEFAULTS.model;
  if (model.trim() === "") throw new CliError("--model needs a model name", EXIT.FAILURE);

  const target = f.target !== undefined;
  refuseMisplaced(f, target);
  let mode: LocalMode | TargetMode;
  if (target) {
    if (f.key !== undefined && f.key.trim() === "") throw new CliError("--key is empty", EXIT.FAILURE);
    mode = {
      kind: "target",
      target: urlFlag("--target", f.target!),
      key: f.key ?? null,
      direct: f.direct === undefined ? null : urlFlag("--direct", f.direct),
      pid: f.pid === undefined ? null : inRange("--pid", f.pid, 0, 1, 2 ** 22),
    };
  } else {
    const strategy = f.strategy ?? DEFAULTS.strategy;
    if (!(STRATEGIES as readonly string[]).includes(strategy)) {
      throw new CliError(`--strategy: unknown strategy "${strategy}"; one of ${STRATEGIES.join(", ")}`, EXIT.FAILURE);
    }
    if (f.bin !== undefined && f.bin.trim() === "") throw new CliError("--bin needs a path to an llmproxy executable", EXIT.FAILURE);
    mode = {
      kind: "local",
      backends: inRange("--backends", f.backends, DEFAULTS.backends, 1, 16),
      strategy: strategy as Strategy,
      keys: inRange("--keys", f.keys, DEFAULTS.keys, 0, 1_000_000),
      webhook: f.webhook !== false,
      bin: f.bin ?? null,
    };
  }
  return { durationMs, concurrency, rate, streams, openStreams, model, stream: f.stream === true, json: f.json === true, mode };
}
