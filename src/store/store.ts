// The store as the daemon and the CLI open it: the file (created 0600), the schema
// brought up to date, the repositories on top.

import type { Db } from "./db.ts";
import { KeyStore } from "./keys.ts";
import { migrate } from "./migrations.ts";
import { openDatabase } from "./sqlite.ts";

export interface Store {
  db: Db;
  keys: KeyStore;
  close(): void;
}

/**
 * Opens and migrates the database at an absolute path (or ":memory:"). Throws
 * DatabaseOpenError or SchemaTooNewError with a message that names the file.
 */
export function openStore(path: string): Store {
  const db = openDatabase(path);
  try {
    migrate(db);
    return { db, keys: new KeyStore(db), close: () => db.close() };
  } catch (err) {
    db.close();
    throw err;
  }
}
