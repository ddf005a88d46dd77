// Writing quota debits to the keys' token counters: the key store's debit() (the CLI,
// tests) and the metering worker (the daemon's debits, off the event loop) share it.
// Its own module so that the worker does not load the key store.

import type { Db, Statement } from "./db.ts";
import type { UsageDebit } from "./types.ts";
import { utcDay } from "./usage.ts";

export class KeyDebits {
  readonly #db: Db;
  readonly #debit: Statement<unknown>;

  constructor(db: Db) {
    this.#db = db;
    // SET reads the old values on every right-hand side, so day and tokens_day agree.
    // A debit from a period before the stored one (a late batch after midnight) counts
    // in the total (and its month, if still current) but not in the newer period.
    this.#debit = db.prepare(`
      UPDATE key_usage SET
        tokens_total = tokens_total + ?,
        tokens_day   = CASE WHEN day = ? THEN tokens_day + ? WHEN day < ? THEN ? ELSE tokens_day END,
        day          = max(day, ?),
        tokens_month = CASE WHEN month = ? THEN tokens_month + ? WHEN month < ? THEN ? ELSE tokens_month END,
        month        = max(month, ?)
      WHERE key_id = ?`);
  }

  /**
   * Adds a batch of debits, all in one transaction. Each debit's own time decides its UTC
   * day and month. Debits for ids not in the store are skipped (a key deleted by hand
   * must not make the whole batch fail); returns how many were applied.
   */
  apply(batch: readonly UsageDebit[]): number {
    for (const d of batch) {
      if (!Number.isSafeInteger(d.tokens) || d.tokens < 0) throw new RangeError(`debit for ${d.keyId}: tokens must be a whole number >= 0, got ${d.tokens}`);
    }
    return this.#db.transaction(() => {
      let applied = 0;
      for (const d of batch) {
        const [t, day] = [d.tokens, utcDay(d.at)];
        const month = day.slice(0, 7);
        // plain "?" repeated, not "?1": better-sqlite3 (issue 10) has no numbered parameters
        applied += this.#debit.run(t, day, t, day, t, day, month, t, month, t, month, d.keyId).changes;
      }
      return applied;
    });
  }
}
