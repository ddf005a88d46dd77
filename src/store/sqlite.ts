// Opening the database, whatever the runtime: the file's creation and checks, the
// pragmas and the Db interface (db.ts) over the runtime's SQLite driver (bun:sqlite in
// sqlite-bun.ts, better-sqlite3 in sqlite-node.ts; src/edges picks one). Everything
// outside src/store sees only Db.
//
// Opening is where operators meet the database, so every way it can fail becomes one
// DatabaseOpenError naming the file and what to do about it.

import { edges, type SqliteDriver } from "../edges/edges.ts";
import { accessSync, chmodSync, closeSync, constants, mkdirSync, openSync, statSync } from "node:fs";
import { dirname } from "node:path";
import type { Db, SqlValue, Statement } from "./db.ts";

export type { Db, RunResult, SqlValue, Statement } from "./db.ts";

/** How long a writer waits for another process's lock (the CLI while the daemon debits). */
const BUSY_TIMEOUT_MS = 5000;

/** The file could not be opened, created or used as a database. */
export class DatabaseOpenError extends Error {
  readonly path: string;
  /** "EACCES", "SQLITE_NOTADB", ...: what tests and callers may decide on. */
  readonly code: string;
  constructor(path: string, code: string, message: string) {
    super(message);
    this.name = "DatabaseOpenError";
    this.path = path;
    this.code = code;
  }
}

const FIX = "fix it or set database: in the config (or --db) to another path";

function codeOf(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : "UNKNOWN";
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function openError(path: string, err: unknown): DatabaseOpenError {
  const code = codeOf(err);
  switch (code) {
    case "EACCES":
    case "EPERM":
      return new DatabaseOpenError(path, code, `cannot open database ${path}: permission denied; run as a user who may read and write the file and its directory, or ${FIX}`);
    case "EISDIR":
      return new DatabaseOpenError(path, code, `cannot open database ${path}: it is a directory; name a file in it, e.g. ${path}/llmproxy.db`);
    case "SQLITE_NOTADB":
      return new DatabaseOpenError(path, code, `${path} is not an SQLite database (or it is damaged); move it away or ${FIX}`);
    case "SQLITE_READONLY":
      return new DatabaseOpenError(path, code, `cannot write to database ${path}: it is read-only; run as its owner or ${FIX}`);
    case "SQLITE_CORRUPT":
      return new DatabaseOpenError(path, code, `database ${path} is damaged (${messageOf(err)}); restore it from a backup or ${FIX}`);
    case "SQLITE_DRIVER_MISSING":
      return new DatabaseOpenError(path, code, `cannot open database ${path}: ${messageOf(err)}`);
    default:
      return new DatabaseOpenError(path, code, `cannot open database ${path}: ${messageOf(err)}; ${FIX}`);
  }
}

/**
 * Makes the file before SQLite does, with mode 0600: it holds key hashes and usage,
 * and SQLite gives the -wal and -shm files the mode of the main file.
 */
function createPrivateFile(path: string): void {
  const dir = dirname(path);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    const code = codeOf(err);
    const reason = code === "EACCES" || code === "EPERM" ? "permission denied" : code === "EEXIST" || code === "ENOTDIR" ? "a part of the path is a file" : messageOf(err);
    throw new DatabaseOpenError(path, code, `cannot create the directory ${dir} for database ${path}: ${reason}; create it or ${FIX}`);
  }
  let fd: number;
  try {
    fd = openSync(path, "wx", 0o600);
  } catch (err) {
    if (codeOf(err) !== "EEXIST") throw openError(path, err);
    // An existing file keeps the mode its owner gave it. SQLite would only say "unable
    // to open database file" for what follows; find the reason while it can be named.
    checkExisting(path);
    return;
  }
  try {
    // the umask may have taken bits away from 0600 (never added any): make it exact
    chmodSync(path, 0o600);
  } finally {
    closeSync(fd);
  }
}

function checkExisting(path: string): void {
  try {
    if (statSync(path).isDirectory()) throw Object.assign(new Error("is a directory"), { code: "EISDIR" });
    accessSync(path, constants.R_OK | constants.W_OK);
  } catch (err) {
    throw openError(path, err);
  }
  try {
    // WAL keeps its -wal and -shm files beside the database: the directory must be writable
    accessSync(dirname(path), constants.W_OK);
  } catch (err) {
    const code = codeOf(err);
    throw new DatabaseOpenError(path, code, `cannot use database ${path}: its directory ${dirname(path)} is not writable (SQLite keeps the -wal and -shm files there); ${FIX}`);
  }
}

class DriverDb implements Db {
  readonly path: string;
  readonly #raw: SqliteDriver;
  readonly #dataVersion: Statement<{ data_version: number }>;

  constructor(path: string, raw: SqliteDriver) {
    this.path = path;
    this.#raw = raw;
    this.#dataVersion = this.prepare<{ data_version: number }>("PRAGMA data_version");
  }

  exec(sql: string): void {
    this.#raw.exec(sql);
  }

  prepare<T = unknown>(sql: string): Statement<T> {
    // the driver's statement serves as it is: SqlValue is what both drivers bind
    return this.#raw.prepare<T>(sql);
  }

  transaction<R>(fn: () => R): R {
    return this.#raw.immediate(fn);
  }

  transactionNow<R>(fn: () => R): R | null {
    this.#raw.exec("PRAGMA busy_timeout=0");
    try {
      return this.#raw.immediate(fn);
    } catch (err) {
      if (codeOf(err) === "SQLITE_BUSY") return null;
      throw err;
    } finally {
      this.#raw.exec(`PRAGMA busy_timeout=${BUSY_TIMEOUT_MS}`);
    }
  }

  dataVersion(): number {
    return this.#dataVersion.get()?.data_version ?? 0;
  }

  close(): void {
    this.#raw.close();
  }
}

/**
 * Opens (creating it, mode 0600, and its directory when missing) the database at an
 * absolute path, or ":memory:". WAL lets the CLI write while the daemon reads;
 * synchronous=NORMAL is durable across crashes of the process in WAL mode (a power
 * loss may lose the last transactions, never corrupt the file).
 */
export function openDatabase(path: string): Db {
  const memory = path === ":memory:";
  let open: (path: string) => SqliteDriver;
  try {
    // first: where there is no driver, say so before a file is made
    open = edges.loadSqlite();
  } catch (err) {
    throw openError(path, err);
  }
  if (!memory) createPrivateFile(path);
  let raw: SqliteDriver | undefined;
  try {
    raw = open(path);
    // busy_timeout first: switching to WAL needs a lock another process may hold
    raw.exec(`PRAGMA busy_timeout=${BUSY_TIMEOUT_MS}`);
    // the first statement that reads the file: a non-database fails here (SQLITE_NOTADB)
    raw.exec("PRAGMA journal_mode=WAL");
    raw.exec("PRAGMA synchronous=NORMAL");
    raw.exec("PRAGMA foreign_keys=ON");
    return new DriverDb(path, raw);
  } catch (err) {
    raw?.close();
    throw openError(path, err);
  }
}
