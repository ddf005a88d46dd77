// The database a CLI command works on (`keys`, `usage`): the one the config's
// `database:` names (-c, $LLMPROXY_CONFIG, ./llmproxy.yaml), or --db. Opened after every
// flag is checked, so a bad command line creates no file; migrated on open, so a
// database the daemon has not created the tables in yet simply holds nothing.

import type { Command } from "commander";
import { Option } from "commander";
import { resolve } from "node:path";
import { formatIssue } from "../config/format.ts";
import { ConfigReadError, loadConfigFile } from "../config/load.ts";
import { openStore, type Store } from "../store/store.ts";
import { CliError, EXIT } from "./exit.ts";
import { defaultConfigPath } from "./validate.ts";

export interface DbOptions {
  config?: string;
  db?: string;
}

/** Why an in-memory database is no use to the command, in its own words. */
export interface MemoryRefusal {
  /** After "--db :memory: ". */
  flag: string;
  /** After `FILE says database: ":memory:", which `. */
  config: string;
}

/** -c and --db (they exclude each other). */
export function withDbFlags(cmd: Command): Command {
  return cmd
    .option("-c, --config <file>", "config file whose database: to use (default: $LLMPROXY_CONFIG, else ./llmproxy.yaml)")
    .addOption(new Option("--db <path>", "the database file itself, instead of a config").conflicts("config"));
}

export async function databasePath(opts: DbOptions, memory: MemoryRefusal): Promise<string> {
  if (opts.db !== undefined) {
    if (opts.db === ":memory:") throw new CliError(`--db :memory: ${memory.flag}; name a file (the one the daemon uses)`);
    if (opts.db.trim() === "") throw new CliError("--db needs a file path");
    return resolve(opts.db);
  }
  const file = opts.config ?? defaultConfigPath();
  let result;
  try {
    result = await loadConfigFile(file);
  } catch (err) {
    if (!(err instanceof ConfigReadError)) throw err;
    throw new CliError(`${err.message}${opts.config === undefined ? "; pass -c FILE or --db PATH" : ""}`, EXIT.USAGE);
  }
  if (!result.ok) {
    process.stderr.write(result.issues.map((i) => formatIssue(file, i) + "\n").join(""));
    throw new CliError(`${file} is not a valid config (see above); fix it, or name the database with --db PATH`);
  }
  const db = result.loaded.config.database;
  if (db === ":memory:") throw new CliError(`${file} says database: ":memory:", which ${memory.config}`);
  return db;
}

/**
 * Opens the store, runs fn, closes it. Opening errors become one-line operator
 * messages; `explain` turns fn's own errors into one (null: leave it as it is).
 */
export async function withStore<R>(
  opts: DbOptions,
  memory: MemoryRefusal,
  fn: (store: Store, path: string) => R,
  explain: (err: unknown, path: string) => CliError | null = () => null,
): Promise<R> {
  const path = await databasePath(opts, memory);
  let store: Store;
  try {
    store = openStore(path);
  } catch (err) {
    throw new CliError(err instanceof Error ? err.message : String(err));
  }
  try {
    return fn(store, path);
  } catch (err) {
    throw explain(err, path) ?? err;
  } finally {
    store.close();
  }
}
