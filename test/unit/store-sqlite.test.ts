import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DatabaseOpenError, openDatabase } from "../../src/store/sqlite.ts";
import { tempDir } from "../helpers/temp-dir.ts";

const dir = tempDir("sqlite");
const mode = (path: string): number => statSync(path).mode & 0o777;
const isRoot = process.getuid?.() === 0;

function openFails(path: string): DatabaseOpenError {
  try {
    openDatabase(path).close();
  } catch (err) {
    expect(err).toBeInstanceOf(DatabaseOpenError);
    return err as DatabaseOpenError;
  }
  throw new Error(`expected ${path} not to open`);
}

/** The "nobody" user: permission checks do not apply to root, so as root they run as it. */
const NOBODY = 65534;
const SQLITE_MODULE = new URL("../../src/store/sqlite.ts", import.meta.url).pathname;

/**
 * Open `path` as a user without special rights and return how it failed: in this process
 * when it has none, else in a child process running as nobody (root reads and writes
 * anything, so the test would prove nothing).
 */
function openFailsUnprivileged(path: string): { code: string; message: string } {
  if (!isRoot) {
    const err = openFails(path);
    return { code: err.code, message: err.message };
  }
  const script = `
    const { DatabaseOpenError, openDatabase } = await import(${JSON.stringify(SQLITE_MODULE)});
    try { openDatabase(${JSON.stringify(path)}).close(); console.log(JSON.stringify({ opened: true })); }
    catch (err) { console.log(JSON.stringify({ openError: err instanceof DatabaseOpenError, code: err.code, message: err.message })); }`;
  const r = spawnSync(process.execPath, ["-e", script], { uid: NOBODY, gid: NOBODY, encoding: "utf8", cwd: "/" });
  expect(r.stderr).toBe("");
  const out = JSON.parse(r.stdout) as { opened?: true; openError?: boolean; code: string; message: string };
  expect(out.opened).toBeUndefined();
  expect(out.openError).toBe(true);
  return out;
}

describe("openDatabase", () => {
  test("creates missing directories and a file only its owner can read, and so are -wal and -shm", () => {
    const path = join(dir, "a", "b", "llmproxy.db");
    const db = openDatabase(path);
    db.exec("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1)");
    expect(mode(path)).toBe(0o600);
    expect(existsSync(`${path}-wal`)).toBe(true);
    expect(existsSync(`${path}-shm`)).toBe(true);
    expect(mode(`${path}-wal`)).toBe(0o600);
    expect(mode(`${path}-shm`)).toBe(0o600);
    expect(mode(join(dir, "a", "b")) & 0o077).toBe(0);
    db.close();
  });

  test("WAL, synchronous NORMAL, a busy timeout and foreign keys are on", () => {
    const db = openDatabase(join(dir, "pragmas.db"));
    expect(db.prepare<{ journal_mode: string }>("PRAGMA journal_mode").get()?.journal_mode).toBe("wal");
    expect(db.prepare<{ synchronous: number }>("PRAGMA synchronous").get()?.synchronous).toBe(1);
    expect(db.prepare<{ timeout: number }>("PRAGMA busy_timeout").get()?.timeout).toBe(5000);
    expect(db.prepare<{ foreign_keys: number }>("PRAGMA foreign_keys").get()?.foreign_keys).toBe(1);
    db.close();
  });

  test("an existing file keeps its data and its mode", () => {
    const path = join(dir, "existing.db");
    const first = openDatabase(path);
    first.exec("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (42)");
    first.close();
    chmodSync(path, 0o640);
    const again = openDatabase(path);
    expect(again.prepare<{ x: number }>("SELECT x FROM t").get()).toEqual({ x: 42 });
    expect(mode(path)).toBe(0o640);
    again.close();
  });

  test(":memory: works", () => {
    const db = openDatabase(":memory:");
    db.exec("CREATE TABLE t (x INTEGER)");
    db.prepare("INSERT INTO t VALUES (?)").run(7);
    expect(db.prepare<{ x: number }>("SELECT x FROM t").all()).toEqual([{ x: 7 }]);
    expect(db.path).toBe(":memory:");
    db.close();
  });

  test("statements: run counts changes, get gives null for no row, all gives every row", () => {
    const db = openDatabase(":memory:");
    db.exec("CREATE TABLE t (x INTEGER, y TEXT)");
    const insert = db.prepare("INSERT INTO t VALUES (?, ?)");
    expect(insert.run(1, "a").changes).toBe(1);
    insert.run(2, null);
    expect(db.prepare("UPDATE t SET y = 'z'").run().changes).toBe(2);
    expect(db.prepare<{ x: number }>("SELECT x FROM t WHERE x = ?").get(9)).toBeNull();
    expect(db.prepare<{ x: number; y: string }>("SELECT * FROM t ORDER BY x").all()).toEqual([
      { x: 1, y: "z" },
      { x: 2, y: "z" },
    ]);
    db.close();
  });

  test("a transaction commits what it did, or nothing when it throws; nested ones are savepoints", () => {
    const db = openDatabase(":memory:");
    db.exec("CREATE TABLE t (x INTEGER)");
    const insert = db.prepare("INSERT INTO t VALUES (?)");
    const count = db.prepare<{ n: number }>("SELECT count(*) AS n FROM t");
    expect(db.transaction(() => (insert.run(1), "done"))).toBe("done");
    expect(() =>
      db.transaction(() => {
        insert.run(2);
        throw new Error("boom");
      }),
    ).toThrow("boom");
    expect(count.get()?.n).toBe(1);
    db.transaction(() => {
      insert.run(3);
      expect(() => db.transaction(() => (insert.run(4), (() => { throw new Error("inner"); })()))).toThrow("inner");
    });
    expect(db.prepare<{ x: number }>("SELECT x FROM t ORDER BY x").all()).toEqual([{ x: 1 }, { x: 3 }]);
    db.close();
  });

  test("transactionNow: null at once while another connection writes, a commit when the lock is free; the busy timeout stays", () => {
    const path = join(dir, "now.db");
    const a = openDatabase(path);
    const b = openDatabase(path);
    a.exec("CREATE TABLE t (x INTEGER)");
    const count = () => a.prepare<{ n: number }>("SELECT count(*) AS n FROM t").get()!.n;
    a.transaction(() => {
      a.exec("INSERT INTO t VALUES (1)");
      expect(b.transactionNow(() => (b.exec("INSERT INTO t VALUES (2)"), "written"))).toBeNull();
    });
    expect(count()).toBe(1);
    expect(b.transactionNow(() => (b.exec("INSERT INTO t VALUES (2)"), "written"))).toBe("written");
    expect(count()).toBe(2);
    expect(() => b.transactionNow(() => { throw new Error("boom"); })).toThrow("boom");
    expect(b.prepare<{ timeout: number }>("PRAGMA busy_timeout").get()!.timeout).toBe(5000);
    a.close();
    b.close();
  });

  test("dataVersion moves when another connection commits, not for this one's own writes", () => {
    const path = join(dir, "version.db");
    const daemon = openDatabase(path);
    const cli = openDatabase(path);
    daemon.exec("CREATE TABLE t (x INTEGER)");
    const before = daemon.dataVersion();
    daemon.exec("INSERT INTO t VALUES (1)");
    expect(daemon.dataVersion()).toBe(before);
    cli.exec("INSERT INTO t VALUES (2)");
    expect(daemon.dataVersion()).not.toBe(before);
    daemon.close();
    cli.close();
  });

  test("a file that is not a database: the error names it and says what to do", () => {
    const path = join(dir, "notes.txt");
    writeFileSync(path, "these are my notes, not a database; ".repeat(10));
    const err = openFails(path);
    expect(err.code).toBe("SQLITE_NOTADB");
    expect(err.message).toBe(`${path} is not an SQLite database (or it is damaged); move it away or fix it or set database: in the config (or --db) to another path`);
  });

  test("a directory where the file should be", () => {
    const path = join(dir, "is-a-dir.db");
    mkdirSync(path);
    const err = openFails(path);
    expect(err.code).toBe("EISDIR");
    expect(err.message).toBe(`cannot open database ${path}: it is a directory; name a file in it, e.g. ${path}/llmproxy.db`);
  });

  test("a directory that cannot be created (a file is in the way)", () => {
    writeFileSync(join(dir, "blocker"), "");
    const path = join(dir, "blocker", "sub", "llmproxy.db");
    const err = openFails(path);
    expect(err.message).toBe(
      `cannot create the directory ${join(dir, "blocker", "sub")} for database ${path}: a part of the path is a file; create it or fix it or set database: in the config (or --db) to another path`,
    );
  });

  test("a file the user may not read", () => {
    chmodSync(dir, 0o755); // let an unprivileged user reach the file to be refused by it
    const path = join(dir, "locked.db");
    openDatabase(path).close();
    chmodSync(path, 0o000);
    const err = openFailsUnprivileged(path);
    expect(err.code).toBe("EACCES");
    expect(err.message).toStartWith(`cannot open database ${path}: permission denied;`);
    chmodSync(path, 0o600);
  });

  test("a directory the user may not write in", () => {
    chmodSync(dir, 0o755);
    const locked = join(dir, "locked-dir");
    mkdirSync(locked, { mode: 0o555 });
    const err = openFailsUnprivileged(join(locked, "llmproxy.db"));
    expect(err.message).toStartWith(`cannot open database ${join(locked, "llmproxy.db")}: permission denied;`);
  });
});
