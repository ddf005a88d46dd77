// Structured logging to stderr: one JSON object per line (or a readable text line).
// The process has one logger; a reload reconfigures it in place. Callers pass plain
// fields; secrets never reach here (keys are named by id or prefix, backends by name).

import type { LogLevel } from "../config/types.ts";

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type LogFields = Record<string, unknown>;

export interface LoggerOptions {
  level: LogLevel;
  format: "json" | "text";
  /** Where lines go; stderr by default. Tests pass a collector. */
  write?: (line: string) => void;
}

export class Logger {
  private min: number;
  private format: "json" | "text";
  private write: (line: string) => void;

  constructor(opts: LoggerOptions) {
    this.min = LEVELS[opts.level];
    this.format = opts.format;
    this.write = opts.write ?? ((line) => process.stderr.write(line));
  }

  configure(opts: Partial<LoggerOptions>): void {
    if (opts.level) this.min = LEVELS[opts.level];
    if (opts.format) this.format = opts.format;
    if (opts.write) this.write = opts.write;
  }

  enabled(level: LogLevel): boolean {
    return LEVELS[level] >= this.min;
  }

  debug(msg: string, fields?: LogFields): void {
    if (this.min <= 10) this.emit("debug", msg, fields);
  }
  info(msg: string, fields?: LogFields): void {
    if (this.min <= 20) this.emit("info", msg, fields);
  }
  warn(msg: string, fields?: LogFields): void {
    if (this.min <= 30) this.emit("warn", msg, fields);
  }
  error(msg: string, fields?: LogFields): void {
    this.emit("error", msg, fields);
  }

  private emit(level: LogLevel, msg: string, fields?: LogFields): void {
    const time = new Date().toISOString();
    if (this.format === "json") {
      this.write(JSON.stringify({ time, level, msg, ...fields }) + "\n");
      return;
    }
    let line = `${time} ${level.toUpperCase().padEnd(5)} ${msg}`;
    if (fields) {
      for (const k in fields) {
        const v = fields[k];
        if (v === undefined) continue;
        line += ` ${k}=${typeof v === "string" && !/\s/.test(v) ? v : JSON.stringify(v)}`;
      }
    }
    this.write(line + "\n");
  }
}

/** The process-wide logger. Configured from the config at start and on each reload. */
export const log = new Logger({ level: "info", format: "json" });
