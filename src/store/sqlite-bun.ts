// The SQLite driver under Bun: bun:sqlite (better-sqlite3 does not load in Bun).
// src/store/sqlite.ts creates and checks the file first and sets the pragmas after.

import { Database, type SQLQueryBindings } from "bun:sqlite";
import type { DriverStatement, SqliteDriver } from "../edges/types.ts";

export function openBunSqlite(path: string): SqliteDriver {
  // the file exists (sqlite.ts made it, mode 0600); only ":memory:" is created here
  const raw = new Database(path, { readwrite: true, create: path === ":memory:" });
  return {
    exec: (sql) => raw.exec(sql),
    prepare<T>(sql: string): DriverStatement<T> {
      const stmt = raw.prepare<T, SQLQueryBindings[]>(sql);
      // the params are SqlValue (db.ts), a subset of what bun:sqlite binds
      const b = (params: unknown[]) => params as SQLQueryBindings[];
      return {
        run: (...params) => ({ changes: stmt.run(...b(params)).changes }),
        get: (...params) => stmt.get(...b(params)),
        all: (...params) => stmt.all(...b(params)),
      };
    },
    immediate: (fn) => raw.transaction(fn).immediate(),
    close: () => raw.close(),
  };
}
