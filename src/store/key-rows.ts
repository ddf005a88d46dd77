// Between KeyRecord and the keys + key_usage rows: the one place that knows column names.

import type { SqlValue } from "./db.ts";
import type { KeyRecord } from "./types.ts";

export interface KeyRow {
  id: string;
  name: string;
  prefix: string;
  hash: string;
  created_at: number;
  updated_at: number;
  expires_at: number | null;
  revoked_at: number | null;
  models: string;
  ips: string;
  rpm: number | null;
  tpm: number | null;
  concurrency: number | null;
  quota_total: number | null;
  quota_daily: number | null;
  quota_monthly: number | null;
  metadata: string;
  previous_hash: string | null;
  previous_expires_at: number | null;
  // from key_usage (LEFT JOIN: null if a row were ever missing)
  tokens_total: number | null;
  day: string | null;
  tokens_day: number | null;
  month: string | null;
  tokens_month: number | null;
}

/** The SELECT every read shares; append a WHERE / ORDER BY. */
export const SELECT_KEY = `
  SELECT k.*, u.tokens_total, u.day, u.tokens_day, u.month, u.tokens_month
  FROM keys k LEFT JOIN key_usage u ON u.key_id = k.id`;

/** The columns an insert or a full update writes, in the order of keyValues(). */
export const KEY_COLUMNS = [
  "name",
  "prefix",
  "hash",
  "created_at",
  "updated_at",
  "expires_at",
  "revoked_at",
  "models",
  "ips",
  "rpm",
  "tpm",
  "concurrency",
  "quota_total",
  "quota_daily",
  "quota_monthly",
  "metadata",
  "previous_hash",
  "previous_expires_at",
] as const;

export function keyValues(r: KeyRecord): SqlValue[] {
  return [
    r.name,
    r.prefix,
    r.hash,
    r.createdAt,
    r.updatedAt,
    r.expiresAt,
    r.revokedAt,
    JSON.stringify(r.models),
    JSON.stringify(r.ips),
    r.limits.rpm,
    r.limits.tpm,
    r.limits.concurrency,
    r.quota.total,
    r.quota.daily,
    r.quota.monthly,
    JSON.stringify(r.metadata),
    r.previousHash,
    r.previousExpiresAt,
  ];
}

/**
 * Most keys share their lists, limits and quotas (none, or the same few): the values read
 * from the same text are one frozen object, not one per key. With 10 000 keys in memory
 * (the key index holds every key) that was ~250 of the ~860 bytes a key cost. Bounded:
 * past SHARED_MAX distinct values, or for a long text, each key gets its own.
 */
const SHARED_MAX = 1000;
const SHARED_TEXT_MAX = 200;
const shared = new Map<string, unknown>();

function sharedValue<T>(text: string, make: () => T): T {
  if (text.length > SHARED_TEXT_MAX) return make();
  let v = shared.get(text) as T | undefined;
  if (v === undefined) {
    v = Object.freeze(make());
    if (shared.size < SHARED_MAX) shared.set(text, v);
  }
  return v;
}

const parsed = <T>(json: string): T => sharedValue(json, () => JSON.parse(json) as T);

export function rowToRecord(row: KeyRow): KeyRecord {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    hash: row.hash,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    revokedAt: row.revoked_at,
    models: parsed<string[]>(row.models),
    ips: parsed<string[]>(row.ips),
    limits: sharedValue(`limits ${row.rpm} ${row.tpm} ${row.concurrency}`, () => ({ rpm: row.rpm, tpm: row.tpm, concurrency: row.concurrency })),
    quota: sharedValue(`quota ${row.quota_total} ${row.quota_daily} ${row.quota_monthly}`, () => ({ total: row.quota_total, daily: row.quota_daily, monthly: row.quota_monthly })),
    tokensUsed: row.tokens_total ?? 0,
    tokensUsedToday: row.tokens_day ?? 0,
    tokensUsedThisMonth: row.tokens_month ?? 0,
    usageDay: row.day ?? "",
    usageMonth: row.month ?? "",
    metadata: parsed<Record<string, string>>(row.metadata),
    previousHash: row.previous_hash,
    previousExpiresAt: row.previous_expires_at,
    updatedAt: row.updated_at,
  };
}
