import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import type { Db } from "../../src/store/db.ts";
import { migrate, MIGRATIONS, SchemaTooNewError } from "../../src/store/migrations.ts";
import type { Migration } from "../../src/store/migrations.ts";
import { openDatabase } from "../../src/store/sqlite.ts";
import { openStore } from "../../src/store/store.ts";
import { tempDir } from "../helpers/temp-dir.ts";

const dir = tempDir("migrations");
const version = (db: Db): number => db.prepare<{ user_version: number }>("PRAGMA user_version").get()?.user_version ?? -1;
const tables = (db: Db): string[] =>
  db.prepare<{ name: string }>("SELECT name FROM sqlite_schema WHERE type IN ('table', 'index') AND name NOT LIKE 'sqlite_%' ORDER BY name").all().map((r) => r.name);

describe("migrations", () => {
  test("an empty database gets every migration and records the version", () => {
    const db = openDatabase(":memory:");
    expect(migrate(db)).toEqual({ from: 0, to: MIGRATIONS.length });
    expect(version(db)).toBe(MIGRATIONS.length);
    expect(tables(db)).toEqual(["key_change_log", "key_usage", "keys", "keys_previous_hash", "usage_records", "usage_records_key_ts", "usage_records_ts", "webhook_outbox"]);
    db.close();
  });

  test("migrating again changes nothing", () => {
    const db = openDatabase(":memory:");
    migrate(db);
    expect(migrate(db)).toEqual({ from: MIGRATIONS.length, to: MIGRATIONS.length });
    db.close();
  });

  test("only the missing migrations run, in order", () => {
    const ran: number[] = [];
    const steps: Migration[] = [1, 2, 3].map((v) => ({ version: v, description: `step ${v}`, up: (db) => (ran.push(v), db.exec(`CREATE TABLE t${v} (x INTEGER)`)) }));
    const db = openDatabase(":memory:");
    migrate(db, steps.slice(0, 1));
    expect(migrate(db, steps)).toEqual({ from: 1, to: 3 });
    expect(ran).toEqual([1, 2, 3]);
    db.close();
  });

  test("a migration that fails leaves the database at the version before it", () => {
    const db = openDatabase(":memory:");
    const steps: Migration[] = [
      { version: 1, description: "ok", up: (d) => d.exec("CREATE TABLE a (x INTEGER)") },
      { version: 2, description: "half done, then fails", up: (d) => (d.exec("CREATE TABLE b (x INTEGER)"), d.exec("NOT SQL")) },
    ];
    expect(() => migrate(db, steps)).toThrow();
    expect(version(db)).toBe(1);
    expect(tables(db)).toEqual(["a"]);
    db.close();
  });

  test("a database from a newer llmproxy is refused, untouched, with a message naming the file", () => {
    const path = join(dir, "newer.db");
    const db = openDatabase(path);
    db.exec(`PRAGMA user_version = ${MIGRATIONS.length + 5}`);
    let caught: unknown;
    try {
      migrate(db);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(SchemaTooNewError);
    expect((caught as Error).message).toBe(
      `database ${path} has schema version ${MIGRATIONS.length + 5}, but this llmproxy knows only up to ${MIGRATIONS.length}: it was written by a newer llmproxy; run that version (or restore a backup taken before the upgrade)`,
    );
    expect(tables(db)).toEqual([]);
    db.close();
    expect(() => openStore(path)).toThrow(SchemaTooNewError);
  });

  test("versions must match their place in the list", () => {
    const db = openDatabase(":memory:");
    expect(() => migrate(db, [{ version: 2, description: "x", up: () => {} }])).toThrow("migrations out of order: #1 says version 2");
    db.close();
  });

  test("a second connection to a database another has just migrated finds nothing to do", () => {
    const path = join(dir, "race.db");
    const a = openDatabase(path);
    const b = openDatabase(path);
    migrate(a);
    expect(migrate(b)).toEqual({ from: MIGRATIONS.length, to: MIGRATIONS.length });
    a.close();
    b.close();
  });
});
