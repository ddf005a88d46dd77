// The daemon's side of the key store: the in-memory index every request is checked
// against, kept in step with the database (a change by another process, such as
// `llmproxy keys revoke`, is seen within POLL_MS: the keys the change log names are
// re-read, not all of them), and the quota ledger whose debits are written in one batch
// every FLUSH_MS.

import type { Logger } from "../log/logger.ts";
import type { Db } from "../store/sqlite.ts";
import type { KeyStore } from "../store/keys.ts";
import { KeyIndex } from "./key-index.ts";
import { QuotaLedger, type DebitBatch } from "./quota-ledger.ts";

/**
 * data_version is one cheap pragma: polling it 4 times a second costs nothing. It moves
 * with every commit of another connection (the metering worker's included), so a move
 * only leads to reading the key change log past its last entry seen.
 */
const POLL_MS = 250;
/** More changed keys than this at once (a bulk import): one reload of all, not one read each. */
const MAX_CHANGED = 1000;
/** Log entries read at once; a daemon this far behind reads every key instead. */
const MAX_ENTRIES = 50_000;
/**
 * While a debit batch is out to the writer, a refresh waits for its answer (which says
 * which log entries are its own: not re-read), up to this long.
 */
const OUT_WAIT_MS = 1000;
const FLUSH_MS = 1000;
/** A flush that found the write lock taken (the metering worker writing) tries again this soon. */
const RETRY_MS = 20;

export class KeyService {
  index: KeyIndex;
  readonly ledger = new QuotaLedger();
  private version: number;
  /** The last entry of the key change log (migration 5) the index reflects. */
  private seq: number;
  private timers: ReturnType<typeof setInterval>[] = [];
  private retry: ReturnType<typeof setTimeout> | null = null;
  private writer: ((batch: DebitBatch) => void) | null = null;
  /** Seq ranges of the log entries the writer's debit batches made: our own, not re-read. */
  private own: [number, number][] = [];
  /** data_version moved since the last refresh. */
  private dirty = false;
  /** The writer's last batch failed (logged once until one succeeds). */
  private writeFailing = false;

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
    // log first: a change made while listing is read again at the next poll (harmless)
    this.seq = store.changeLog.last();
    this.index = new KeyIndex(store.list());
  }

  start(): void {
    const poll = setInterval(() => this.refreshIfChanged(), POLL_MS);
    const flush = setInterval(() => this.flush(), FLUSH_MS);
    for (const t of [poll, flush]) t.unref();
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

  /** Another connection committed: re-read the keys it changed, if any. */
  refreshIfChanged(): void {
    let v: number;
    try {
      v = this.db.dataVersion();
    } catch (err) {
      this.log.error("cannot read the key database; keys stay as last read", { error: String(err) });
      return;
    }
    if (v !== this.version) {
      this.version = v;
      this.dirty = true;
    }
    if (!this.dirty) return;
    const out = this.ledger.oldestSent();
    if (out !== null && Date.now() - out < OUT_WAIT_MS) return;
    this.dirty = false;
    this.refresh("database changed");
  }

  /**
   * Re-read the keys the change log names past the last entry seen (this connection's
   * own writes too: the admin API calls this after each). Usage records and the like
   * move data_version but add nothing to the log: nothing is read then.
   */
  refresh(trigger: string): void {
    try {
      const started = performance.now();
      const { changes, oldest } = this.store.changeLog.since(this.seq, MAX_ENTRIES);
      if (changes.length === 0) return;
      // entries past ours were pruned, or we are that far behind: read them all
      if (oldest > this.seq + 1 || changes.length >= MAX_ENTRIES) return this.reload(trigger);
      // our own debits, written by the writer, are counted by the ledger already
      const ids = new Set<string>();
      for (const c of changes) if (!this.isOwn(c.seq)) ids.add(c.key_id);
      if (ids.size > MAX_CHANGED) return this.reload(trigger);
      this.seq = changes[changes.length - 1]!.seq;
      this.own = this.own.filter(([, to]) => to > this.seq);
      if (ids.size === 0) return;
      const records = new Map<string, ReturnType<KeyStore["get"]>>();
      for (const id of ids) records.set(id, this.store.get(id));
      this.index.apply(records);
      this.ledger.refreshed(ids);
      this.log.debug("keys refreshed", { trigger, keys: ids.size, ms: Math.round((performance.now() - started) * 1000) / 1000 });
    } catch (err) {
      this.log.error("cannot read the key database; keys stay as last read", { error: String(err) });
    }
  }

  /** Rebuild the index from the store; `trigger` says why, in the debug log. */
  reload(trigger: string): void {
    try {
      const started = performance.now();
      // log first: a change made while listing is read again at the next poll
      const seq = this.store.changeLog.last();
      this.index = new KeyIndex(this.store.list());
      this.seq = seq;
      this.ledger.reloaded();
      this.log.debug("keys reloaded", { trigger, keys: this.index.size, ms: Math.round(performance.now() - started) });
    } catch (err) {
      this.log.error("cannot reload keys; the previous set stays in force", { error: String(err) });
    }
  }

  /**
   * Where debit batches go from now on: the metering worker (the daemon), which answers
   * with debitsWritten or debitsUnwritten; null: written here, on the event loop (tests,
   * and the daemon once its worker failed: batches out to it wait again).
   */
  useWriter(writer: ((batch: DebitBatch) => void) | null): void {
    this.writer = writer;
    if (!writer) this.ledger.unwritten("all");
  }

  /** The writer stored batch `id`; its log entries are seqs [from, to] (none when from > to). */
  debitsWritten(id: number, from: number, to: number): void {
    this.ledger.written(id);
    if (this.writeFailing) {
      this.writeFailing = false;
      this.log.info("quota usage is written again");
    }
    if (from <= to && to > this.seq) this.own.push([from, to]);
  }

  private isOwn(seq: number): boolean {
    for (const [from, to] of this.own) if (seq >= from && seq <= to) return true;
    return false;
  }

  debitsUnwritten(id: number, error: string): void {
    this.ledger.unwritten(id);
    // once per streak of failures: the next flush tries again every second
    if (this.writeFailing) return;
    this.writeFailing = true;
    this.log.error("cannot write quota usage; it is kept and retried", { error });
  }

  /**
   * Hand the pending quota debits to the writer, in one batch. Without one they are
   * written here in one transaction, never waiting for the write lock on the event loop:
   * when another connection holds it they wait RETRY_MS for another try (`wait`: at
   * shutdown, wait for it). A failed write keeps them for the next.
   */
  flush(wait = false): void {
    const batch = this.ledger.takeBatch();
    if (!batch) return;
    // The writer reports the log entries its batch made, and they are not read again
    // (debitsWritten): the ledger counts those debits. Written here instead, they are:
    // the next refresh re-reads the keys, written debits included, and the ledger then
    // counts only the unwritten ones.
    if (this.writer) return this.writer(batch);
    try {
      const apply = (): true => (this.store.debit(batch.debits), true);
      if ((wait ? this.db.transaction(apply) : this.db.transactionNow(apply)) === null) {
        this.ledger.unwritten(batch.id);
        this.retry ??= setTimeout(() => {
          this.retry = null;
          this.flush();
        }, RETRY_MS);
        this.retry.unref?.();
      } else this.ledger.written(batch.id);
    } catch (err) {
      this.ledger.unwritten(batch.id);
      this.log.error("cannot write quota usage; it is kept and retried", { error: String(err), debits: batch.debits.length });
    }
  }

  /**
   * At shutdown, once the writer stopped: what it never confirmed is written here (a
   * batch it stored but could not confirm, its thread dying in between, would then count
   * twice: the safe side of a quota).
   */
  closeWriter(): void {
    this.useWriter(null);
    this.flush(true);
  }
}
