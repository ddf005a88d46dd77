// The daemon's side of the key store: the in-memory index every request is checked
// against, kept in step with the database (a change by another process, such as
// `llmproxy keys revoke`, is seen within POLL_MS), and the quota ledger whose debits are
// written in one batch every FLUSH_MS.

import type { Logger } from "../log/logger.ts";
import type { Db } from "../store/sqlite.ts";
import type { KeyStore } from "../store/keys.ts";
import { KeyIndex } from "./key-index.ts";
import { QuotaLedger } from "./quota-ledger.ts";

/**
 * data_version is one cheap pragma: polling it 4 times a second costs nothing. It moves
 * with every commit of another connection (the metering worker's included), so a move
 * only leads to reading the keys' change counter, and that to a reload when it moved.
 */
const POLL_MS = 250;
const FLUSH_MS = 1000;
/** A flush that found the write lock taken (the metering worker writing) tries again this soon. */
const RETRY_MS = 20;

export class KeyService {
  index: KeyIndex;
  readonly ledger = new QuotaLedger();
  private version: number;
  /** The keys' change counter (migration 3) as of the index in force and our own writes. */
  private changes: number;
  private timers: ReturnType<typeof setInterval>[] = [];
  private retry: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly db: Db,
    readonly store: KeyStore,
    private readonly log: Logger,
  ) {
    // This connection is the event loop's: it never checkpoints the write-ahead log (a
    // checkpoint writes pages back to the file and syncs it, milliseconds at least).
    // The metering worker's connection commits far more often and checkpoints for both.
    db.exec("PRAGMA wal_autocheckpoint=0");
    this.version = db.dataVersion();
    this.changes = store.changeCount();
    this.index = new KeyIndex(store.list());
  }

  start(): void {
    const poll = setInterval(() => this.refreshIfChanged(), POLL_MS);
    const flush = setInterval(() => this.flush(), FLUSH_MS);
    poll.unref();
    flush.unref();
    this.timers = [poll, flush];
  }

  /** Stop polling and write what is pending (at shutdown: waiting for the lock if need be). */
  stop(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
    this.flush(true);
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
    let changes: number;
    try {
      changes = this.store.changeCount();
    } catch (err) {
      this.log.error("cannot read the key database; keys stay as last read", { error: String(err) });
      return;
    }
    if (changes === this.changes) return; // usage records, not keys
    this.reload("database changed");
  }

  /** Rebuild the index from the store; `trigger` says why, in the debug log. */
  reload(trigger: string): void {
    try {
      const started = performance.now();
      // counter first: a change made while listing is seen again at the next poll
      this.changes = this.store.changeCount();
      this.index = new KeyIndex(this.store.list());
      this.ledger.reloaded();
      this.log.debug("keys reloaded", { trigger, keys: this.index.size, ms: Math.round(performance.now() - started) });
    } catch (err) {
      this.log.error("cannot reload keys; the previous set stays in force", { error: String(err) });
    }
  }

  /**
   * Write the pending quota debits in one transaction; on failure keep them for the next.
   * On the event loop it never waits for the write lock: when the metering worker holds
   * it, the debits wait RETRY_MS for another try (`wait`: at shutdown, wait for it).
   */
  flush(wait = false): void {
    const debits = this.ledger.takePending();
    if (debits.length === 0) return;
    try {
      const apply = (): true => {
        const before = this.store.changeCount();
        this.store.debit(debits);
        // Our own writes move the counter (not data_version, for this connection): count
        // them as seen, unless another connection's change came first, which the next
        // poll (its data_version moved) must still reload.
        if (before === this.changes) this.changes = this.store.changeCount();
        return true;
      };
      if ((wait ? this.db.transaction(apply) : this.db.transactionNow(apply)) === null) {
        this.ledger.restore(debits);
        this.retry ??= setTimeout(() => {
          this.retry = null;
          this.flush();
        }, RETRY_MS);
        this.retry.unref?.();
      }
    } catch (err) {
      this.ledger.restore(debits);
      this.log.error("cannot write quota usage; it is kept and retried", { error: String(err), debits: debits.length });
    }
  }
}
