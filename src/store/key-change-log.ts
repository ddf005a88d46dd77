// The key change log (migration 5): triggers add the id of each key changed, by any
// connection; a daemon re-reads only the keys named past the last entry it saw
// (auth/key-service.ts). Its own module so that the metering worker, which writes
// debits and prunes the log, does not load the key store.

import type { Db, Statement } from "./db.ts";

export interface KeyChange {
  seq: number;
  key_id: string;
}

export class KeyChangeLog {
  readonly #last: Statement<{ n: number | null }>;
  readonly #first: Statement<{ n: number | null }>;
  readonly #since: Statement<KeyChange>;
  readonly #prune: Statement<unknown>;

  constructor(db: Db) {
    this.#last = db.prepare<{ n: number | null }>("SELECT max(seq) AS n FROM key_change_log");
    this.#first = db.prepare<{ n: number | null }>("SELECT min(seq) AS n FROM key_change_log");
    this.#since = db.prepare<KeyChange>("SELECT seq, key_id FROM key_change_log WHERE seq > ? ORDER BY seq LIMIT ?");
    this.#prune = db.prepare("DELETE FROM key_change_log WHERE seq <= (SELECT max(seq) FROM key_change_log) - ?");
  }

  /** The newest entry, 0 when the log is empty. */
  last(): number {
    return this.#last.get()?.n ?? 0;
  }

  /**
   * The entries after `seq`, oldest first, at most `limit`, and the oldest entry still
   * kept (entries after `seq` may have been pruned: `oldest > seq + 1` says so).
   */
  since(seq: number, limit: number): { changes: KeyChange[]; oldest: number } {
    return { changes: this.#since.all(seq, limit), oldest: this.#first.get()?.n ?? 0 };
  }

  /**
   * Drop the entries but the newest `keep`. The metering worker runs it, on its own
   * connection: a daemon under many debits adds thousands of entries a second, and
   * deleting a minute of them is no work for the event loop.
   */
  prune(keep: number): number {
    return this.#prune.run(keep).changes;
  }
}
