// The database as the rest of llmproxy sees it: a few synchronous calls that both
// bun:sqlite (Bun) and better-sqlite3 (Node, issue 10) can serve, so repositories never
// import a driver. Only positional `?` parameters: better-sqlite3 has no `?NNN`.

/** A value SQLite stores or returns (integers above 2^53 are out of scope here). */
export type SqlValue = string | number | bigint | null | Uint8Array;

export interface RunResult {
  /** Rows inserted, updated or deleted by the statement. */
  changes: number;
}

export interface Statement<T> {
  run(...params: SqlValue[]): RunResult;
  /** The first row, or null when there is none. */
  get(...params: SqlValue[]): T | null;
  all(...params: SqlValue[]): T[];
}

export interface Db {
  /** The file (absolute as given) or ":memory:"; what error messages name. */
  readonly path: string;
  /** Runs one or more statements without parameters (schema, pragmas). */
  exec(sql: string): void;
  /** Compiles once; keep the statement and reuse it on hot paths. */
  prepare<T = unknown>(sql: string): Statement<T>;
  /**
   * Runs fn inside BEGIN IMMEDIATE ... COMMIT (ROLLBACK if it throws). IMMEDIATE takes
   * the write lock up front, so a second process waits in busy_timeout instead of
   * failing with SQLITE_BUSY when a read transaction tries to become a write one.
   * Nested calls become savepoints.
   */
  transaction<R>(fn: () => R): R;
  /**
   * The same, but when another connection holds the write lock it returns null at once
   * instead of waiting: for writes on the event loop that can wait for a later turn
   * (SQLite's busy handler sleeps, and a sleep there holds up every request).
   */
  transactionNow<R>(fn: () => R): R | null;
  /**
   * PRAGMA data_version: changes whenever another connection (the CLI, another
   * process) commits to the file, never for this connection's own writes. The daemon
   * polls it to reload its key index without a restart.
   */
  dataVersion(): number;
  close(): void;
}
