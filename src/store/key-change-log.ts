// The key change log (migration 5): triggers add the id of each key changed, by any
// connection; a daemon re-reads only the keys named past the last entry it saw
// (auth/key-service.ts). Its own module so that the metering worker, which prunes it,
// does not load the key store.

import type { Db } from "./db.ts";

/**
 * Drop the key change log's entries but the newest `keep` (migration 5). The metering
 * worker runs it, on its own connection: a daemon under many debits adds thousands of
 * entries a second, and deleting a minute of them is no work for the event loop.
 */
/** The newest entry of the log, 0 when it is empty. */
export function lastKeyChange(db: Db): number {
  return db.prepare<{ n: number | null }>("SELECT max(seq) AS n FROM key_change_log").get()?.n ?? 0;
}

export function pruneKeyChanges(db: Db, keep: number): number {
  return db.prepare("DELETE FROM key_change_log WHERE seq <= (SELECT max(seq) FROM key_change_log) - ?").run(keep).changes;
}
