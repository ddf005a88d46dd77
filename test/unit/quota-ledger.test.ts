import { describe, expect, test } from "bun:test";
import { QuotaLedger } from "../../src/auth/quota-ledger.ts";
import type { KeyRecord } from "../../src/store/types.ts";

const DAY = 86_400_000;
/** 2026-11-25T12:00:00Z */
const NOON = Date.UTC(2026, 10, 25, 12);

function record(id: string, over: Partial<KeyRecord> = {}): KeyRecord {
  return {
    id,
    name: id,
    prefix: "sk-llmp-test",
    hash: "h",
    createdAt: 0,
    expiresAt: null,
    revokedAt: null,
    models: [],
    ips: [],
    limits: { rpm: null, tpm: null, concurrency: null },
    quota: { total: null, daily: null, monthly: null },
    tokensUsed: 0,
    tokensUsedToday: 0,
    tokensUsedThisMonth: 0,
    usageDay: "2026-11-25",
    usageMonth: "2026-11",
    metadata: {},
    previousHash: null,
    previousExpiresAt: null,
    updatedAt: 0,
    ...over,
  };
}

describe("QuotaLedger", () => {
  test("pending debits come out summed per key and UTC day, the latest time of each kept", () => {
    const l = new QuotaLedger();
    for (let i = 0; i < 1000; i++) l.debit("key_a", 3, NOON + i);
    l.debit("key_b", 5, NOON);
    l.debit("key_a", 7, NOON + DAY); // the next day: a debit of its own
    l.debit("key_a", 0, NOON); // nothing
    const out = l.takePending().sort((x, y) => x.keyId.localeCompare(y.keyId) || x.at - y.at);
    expect(out).toEqual([
      { keyId: "key_a", tokens: 3000, at: NOON + 999 },
      { keyId: "key_a", tokens: 7, at: NOON + DAY },
      { keyId: "key_b", tokens: 5, at: NOON },
    ]);
    expect(l.takePending()).toEqual([]);
  });

  test("a failed write's debits come back and merge with the new ones", () => {
    const l = new QuotaLedger();
    l.debit("key_a", 10, NOON);
    const failed = l.takePending();
    l.debit("key_a", 1, NOON + 5);
    l.restore(failed);
    expect(l.takePending()).toEqual([{ keyId: "key_a", tokens: 11, at: NOON + 5 }]);
  });

  test("used and exhausted count the store's numbers plus this process's debits; a reload keeps only the unwritten ones", () => {
    const l = new QuotaLedger();
    const r = record("key_a", { tokensUsed: 100, tokensUsedToday: 40, quota: { total: null, daily: 50, monthly: null } });
    l.debit("key_a", 9, NOON);
    expect(l.used(r, NOON)).toEqual({ total: 109, today: 49, month: 9 });
    expect(l.exhausted(r, NOON)).toBeNull();
    l.debit("key_a", 1, NOON);
    expect(l.exhausted(r, NOON)).toBe("daily");
    // tomorrow, the stored day's counter no longer counts, nor do today's debits
    expect(l.used(r, NOON + DAY).today).toBe(0);

    // written: the store now holds the 10 tokens; one more debit is not written yet
    l.takePending();
    l.debit("key_a", 2, NOON);
    l.reloaded();
    const stored = { ...r, tokensUsed: 110, tokensUsedToday: 50 };
    expect(l.used(stored, NOON)).toEqual({ total: 112, today: 52, month: 2 });
  });
});
