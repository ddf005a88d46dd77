// Token counters by UTC period. A key's day and month counters belong to the period
// named beside them; read after that period ended, they count nothing yet in the new one.

import type { KeyRecord } from "./types.ts";

let cachedMinute = Number.NaN;
let cachedDay = "";

/**
 * "2026-11-25": the UTC calendar day of a Unix ms time. Cached per minute: the quota
 * check asks on every request, and a day never starts mid-minute.
 */
export function utcDay(ms: number): string {
  const minute = Math.floor(ms / 60_000);
  if (minute !== cachedMinute) {
    cachedMinute = minute;
    cachedDay = new Date(minute * 60_000).toISOString().slice(0, 10);
  }
  return cachedDay;
}

/** "2026-11": the UTC calendar month of a Unix ms time. */
export function utcMonth(ms: number): string {
  return new Date(ms).toISOString().slice(0, 7);
}

export interface KeyUsage {
  /** All time. */
  total: number;
  /** In the UTC day and month of `now`. */
  today: number;
  thisMonth: number;
  day: string;
  month: string;
}

/** The key's counters as they stand at `now` (period counters of an earlier period read 0). */
export function usageAt(record: KeyRecord, now: number): KeyUsage {
  const day = utcDay(now);
  const month = day.slice(0, 7);
  return {
    total: record.tokensUsed,
    today: record.usageDay === day ? record.tokensUsedToday : 0,
    thisMonth: record.usageMonth === month ? record.tokensUsedThisMonth : 0,
    day,
    month,
  };
}

/**
 * Tokens the key may still use under its tightest quota at `now` (0 or less = used up),
 * or null when it has no quota at all.
 */
export function quotaLeft(record: KeyRecord, now: number): number | null {
  const used = usageAt(record, now);
  const { total, daily, monthly } = record.quota;
  let left: number | null = null;
  const tighten = (limit: number | null, spent: number): void => {
    if (limit !== null) left = left === null ? limit - spent : Math.min(left, limit - spent);
  };
  tighten(total, used.total);
  tighten(daily, used.today);
  tighten(monthly, used.thisMonth);
  return left;
}
