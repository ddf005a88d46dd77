// Token quotas: what each key has used, as the store last said plus what this process
// has debited since, and the debits waiting to be written. Requests are charged their
// real token counts when they end; the debits go to the store in one batch every second
// (and at shutdown), written by the metering worker in the daemon, never on the
// request's path nor on the event loop.
//
// How far a key can overshoot: admission checks the quota before the request runs, and
// a request admitted is always charged in full. So a key goes over by at most the
// tokens of the requests it had in flight when it crossed the line: at most its
// concurrency limit times the largest answer (max_tokens plus prompt) of those
// requests. A hard kill loses at most the last second of debits.

import type { KeyRecord, UsageDebit } from "../store/types.ts";
import { utcDay } from "../store/usage.ts";

export type QuotaKind = "total" | "daily" | "monthly";

/** Debits on their way to the store, numbered so that the writer can confirm them. */
export interface DebitBatch {
  id: number;
  debits: UsageDebit[];
}

interface Local {
  total: number;
  /** Debits this process made, by UTC day ("2026-11-25") and month ("2026-11"). */
  byDay: Map<string, number>;
  byMonth: Map<string, number>;
}

export class QuotaLedger {
  /** Debits since the records in the index were read, per key. */
  private local = new Map<string, Local>();
  /**
   * Debits not written yet, summed per key and UTC day as they come: the flush takes
   * one entry per key and day, and its cost does not grow with the requests made (a
   * list of every request's debit, merged at the flush, held the event loop 3-4 ms a
   * second at 16 000 requests a second).
   */
  private pending = new Map<string, Map<string, UsageDebit>>();
  /**
   * Batches handed to a writer (the metering worker) and not confirmed yet: not in the
   * store's records as the index last read them, so still counted on top.
   */
  private sent = new Map<number, { debits: UsageDebit[]; at: number }>();
  private nextBatch = 1;

  debit(keyId: string, tokens: number, nowMs: number): void {
    if (tokens <= 0) return;
    const day = utcDay(nowMs);
    this.addPending(keyId, day, tokens, nowMs);
    this.countLocal(keyId, day, tokens);
  }

  /** Tokens used by a key: all time, today and this month (UTC). */
  used(record: KeyRecord, nowMs: number): { total: number; today: number; month: number } {
    const day = utcDay(nowMs);
    const month = day.slice(0, 7);
    const l = this.local.get(record.id);
    return {
      total: record.tokensUsed + (l?.total ?? 0),
      today: (record.usageDay === day ? record.tokensUsedToday : 0) + (l?.byDay.get(day) ?? 0),
      month: (record.usageMonth === month ? record.tokensUsedThisMonth : 0) + (l?.byMonth.get(month) ?? 0),
    };
  }

  /** Which quota the key has used up, or null. */
  exhausted(record: KeyRecord, nowMs: number): QuotaKind | null {
    const q = record.quota;
    if (q.total === null && q.daily === null && q.monthly === null) return null;
    const u = this.used(record, nowMs);
    if (q.total !== null && u.total >= q.total) return "total";
    if (q.daily !== null && u.today >= q.daily) return "daily";
    if (q.monthly !== null && u.month >= q.monthly) return "monthly";
    return null;
  }

  private addPending(keyId: string, day: string, tokens: number, at: number): void {
    let byDay = this.pending.get(keyId);
    if (!byDay) this.pending.set(keyId, (byDay = new Map()));
    const d = byDay.get(day);
    if (d) {
      d.tokens += tokens;
      if (at > d.at) d.at = at;
    } else byDay.set(day, { keyId, tokens, at });
  }

  /**
   * The debits to write now, one per key and UTC day: one write per key a second,
   * however many requests it made (20 000 requests a second must not mean 20 000
   * UPDATEs).
   */
  takePending(): UsageDebit[] {
    const out: UsageDebit[] = [];
    for (const byDay of this.pending.values()) for (const d of byDay.values()) out.push(d);
    this.pending = new Map();
    return out;
  }

  /** A write failed: keep its debits for the next attempt (nothing is lost). */
  restore(debits: UsageDebit[]): void {
    for (const d of debits) this.addPending(d.keyId, utcDay(d.at), d.tokens, d.at);
  }

  /** takePending() as a numbered batch on its way to a writer; null when nothing waits. */
  takeBatch(nowMs: number = Date.now()): DebitBatch | null {
    const debits = this.takePending();
    if (debits.length === 0) return null;
    const id = this.nextBatch++;
    this.sent.set(id, { debits, at: nowMs });
    return { id, debits };
  }

  /** When the oldest batch still out was handed over (Unix ms), or null when none is. */
  oldestSent(): number | null {
    for (const b of this.sent.values()) return b.at;
    return null;
  }

  /** The writer stored batch `id`. */
  written(id: number): void {
    this.sent.delete(id);
  }

  /** The writer could not store batch `id` (or `all` that are out, when it is gone): they wait again. */
  unwritten(id: number | "all"): void {
    for (const [n, b] of this.sent) {
      if (id !== "all" && n !== id) continue;
      this.sent.delete(n);
      this.restore(b.debits);
    }
  }

  /**
   * The index was reloaded from the store: the records now include every debit written
   * so far, so only the unwritten ones are still counted on top.
   */
  reloaded(): void {
    this.local = new Map();
    for (const d of this.pendingDebits()) this.countDebit(d);
    for (const batch of this.sent.values()) for (const d of batch.debits) this.countDebit(d);
  }

  /**
   * The same for the keys of `ids` alone, re-read from the store. (A batch the writer
   * stored but has not confirmed yet counts twice until the key is read again: a
   * stricter quota for a moment, never a looser one.)
   */
  refreshed(ids: Iterable<string>): void {
    const set = ids instanceof Set ? (ids as Set<string>) : new Set(ids);
    for (const id of set) {
      this.local.delete(id);
      const byDay = this.pending.get(id);
      if (byDay) for (const d of byDay.values()) this.countDebit(d);
    }
    for (const batch of this.sent.values()) for (const d of batch.debits) if (set.has(d.keyId)) this.countDebit(d);
  }

  private countDebit(d: UsageDebit): void {
    this.countLocal(d.keyId, utcDay(d.at), d.tokens);
  }

  /** Tokens this process debited a key, counted on top of the store's record. */
  private countLocal(keyId: string, day: string, tokens: number): void {
    let l = this.local.get(keyId);
    if (!l) this.local.set(keyId, (l = { total: 0, byDay: new Map(), byMonth: new Map() }));
    const month = day.slice(0, 7);
    l.total += tokens;
    l.byDay.set(day, (l.byDay.get(day) ?? 0) + tokens);
    l.byMonth.set(month, (l.byMonth.get(month) ?? 0) + tokens);
  }

  private *pendingDebits(): Iterable<UsageDebit> {
    for (const byDay of this.pending.values()) yield* byDay.values();
  }
}
