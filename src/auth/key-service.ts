// The daemon's side of the key store: the in-memory index every request is checked
// against, kept in step with the database (a change by another process, such as
// `llmproxy keys revoke`, is seen within POLL_MS), and the quota ledger whose debits are
// written in one batch every FLUSH_MS.

import type { Logger } from "../log/logger.ts";
import type { Db } from "../store/sqlite.ts";
import type { KeyStore } from "../store/keys.ts";
import { KeyIndex } from "./key-index.ts";
import { QuotaLedger } from "./quota-ledger.ts";

/** data_version is one cheap pragma: polling it 4 times a second costs nothing. */
const POLL_MS = 250;
const FLUSH_MS = 1000;

export class KeyService {
  index: KeyIndex;
  readonly ledger = new QuotaLedger();
  private version: number;
  private timers: ReturnType<typeof setInterval>[] = [];

  constructor(
    private readonly db: Db,
    readonly store: KeyStore,
    private readonly log: Logger,
  ) {
    this.index = new KeyIndex(store.list());
    this.version = db.dataVersion();
  }

  start(): void {
    const poll = setInterval(() => this.refreshIfChanged(), POLL_MS);
    const flush = setInterval(() => this.flush(), FLUSH_MS);
    poll.unref();
    flush.unref();
    this.timers = [poll, flush];
  }

  /** Stop polling and write what is pending (at shutdown). */
  stop(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    this.flush();
  }

  refreshIfChanged(): void {
    let v: number;
    try {
      v = this.db.dataVersion();
    } catch (err) {
      this.log.error("cannot read the key database; keys stay as last read", { error: String(err) });
      return;
    }
    if (v === this.version) return;
    this.version = v;
    this.reload("database changed");
  }

  /** Rebuild the index from the store; `trigger` says why, in the debug log. */
  reload(trigger: string): void {
    try {
      const started = performance.now();
      this.index = new KeyIndex(this.store.list());
      this.ledger.reloaded();
      this.log.debug("keys reloaded", { trigger, keys: this.index.size, ms: Math.round(performance.now() - started) });
    } catch (err) {
      this.log.error("cannot reload keys; the previous set stays in force", { error: String(err) });
    }
  }

  /** Write the pending quota debits in one transaction; on failure keep them for the next. */
  flush(): void {
    const debits = this.ledger.takePending();
    if (debits.length === 0) return;
    try {
      this.store.debit(debits);
    } catch (err) {
      this.ledger.restore(debits);
      this.log.error("cannot write quota usage; it is kept and retried", { error: String(err), debits: debits.length });
    }
  }
}
