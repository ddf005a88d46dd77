// The SQLite driver under Node: better-sqlite3, an optional dependency built natively at
// install. A machine that could not build it still installs llmproxy (the Bun
// executable never needs it); opening a database there says what is missing.
// src/store/sqlite.ts creates and checks the file first and sets the pragmas after.

import { createRequire } from "node:module";
import type BetterSqlite3 from "better-sqlite3";
import type { DriverStatement, SqliteDriver } from "../edges/types.ts";

type Ctor = typeof BetterSqlite3;

let loaded: Ctor | Error | null = null;

/** better-sqlite3, loaded on first use (a CLI command that needs no database never loads it). */
function driver(): Ctor {
  if (loaded === null) {
    try {
      loaded = createRequire(import.meta.url)("better-sqlite3") as Ctor;
    } catch (err) {
      loaded = err instanceof Error ? err : new Error(String(err));
    }
  }
  if (loaded instanceof Error) {
    const why = (loaded as { code?: string }).code === "MODULE_NOT_FOUND" ? "it is not installed" : `it does not load (${loaded.message.split("\n")[0]})`;
    throw Object.assign(
      new Error(
        `llmproxy on Node needs the better-sqlite3 package for its database, and ${why}. ` +
          "It builds at install time with python3, make and a C++ compiler: install those and run `npm rebuild better-sqlite3` " +
          "(npm 11 also needs `npm install-scripts approve better-sqlite3`), or run the Bun executable (dist/llmproxy), which needs nothing.",
      ),
      { code: "SQLITE_DRIVER_MISSING" },
    );
  }
  return loaded;
}

/** The opener; throws (SQLITE_DRIVER_MISSING) when better-sqlite3 is not there. */
export function loadNodeSqlite(): (path: string) => SqliteDriver {
  const Database = driver();
  return (path) => open(Database, path);
}

function open(Database: Ctor, path: string): SqliteDriver {
  // fileMustExist: sqlite.ts made the file (mode 0600); only ":memory:" is new here
  const raw = new Database(path, { fileMustExist: path !== ":memory:" });
  return {
    exec: (sql) => {
      raw.exec(sql);
    },
    prepare<T>(sql: string): DriverStatement<T> {
      const stmt = raw.prepare(sql);
      // statements that return nothing (INSERT ...) cannot be asked for rows in
      // better-sqlite3; bun:sqlite answers them with [] / null: do the same
      const reader = stmt.reader;
      return {
        run: (...params) => ({ changes: stmt.run(...params).changes }),
        get: (...params) => (reader ? ((stmt.get(...params) as T | undefined) ?? null) : (stmt.run(...params), null)),
        all: (...params) => (reader ? (stmt.all(...params) as T[]) : (stmt.run(...params), [])),
      };
    },
    immediate: (fn) => raw.transaction(fn).immediate(),
    close: () => raw.close(),
  };
}
