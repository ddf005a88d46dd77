import { describe, expect, test } from "bun:test";
import { EXPIRY_HINT, keyInputProblems, parseExpiry } from "../../src/store/key-input.ts";
import { keyStatus, keyView } from "../../src/store/key-view.ts";
import type { KeyRecord } from "../../src/store/types.ts";

const NOW = Date.UTC(2026, 10, 25, 12, 0, 0);

describe("parseExpiry", () => {
  test("a duration counts from now", () => {
    expect(parseExpiry("30d", NOW)).toEqual({ ok: true, value: NOW + 30 * 86_400_000 });
    expect(parseExpiry("12h", NOW)).toEqual({ ok: true, value: NOW + 12 * 3_600_000 });
  });

  test("a bare date is 00:00 UTC of that day", () => {
    expect(parseExpiry("2027-01-31", NOW)).toEqual({ ok: true, value: Date.UTC(2027, 0, 31) });
  });

  test("a date and time needs a zone; offsets count", () => {
    expect(parseExpiry("2027-01-31T12:00:00Z", NOW)).toEqual({ ok: true, value: Date.UTC(2027, 0, 31, 12) });
    expect(parseExpiry("2027-01-31T12:00Z", NOW)).toEqual({ ok: true, value: Date.UTC(2027, 0, 31, 12) });
    expect(parseExpiry("2027-01-31T12:00:00.250+02:00", NOW)).toEqual({ ok: true, value: Date.UTC(2027, 0, 31, 10, 0, 0, 250) });
    expect(parseExpiry("2027-01-31T12:00:00-05:30", NOW)).toEqual({ ok: true, value: Date.UTC(2027, 0, 31, 17, 30) });
    expect(parseExpiry("2027-01-31T12:00:00", NOW)).toEqual({ ok: false, problem: '"2027-01-31T12:00:00" has no time zone: add Z (UTC) or an offset like +02:00' });
  });

  test('"never" is no expiry', () => {
    expect(parseExpiry("never", NOW)).toEqual({ ok: true, value: null });
  });

  test("not a duration or a real date", () => {
    for (const s of ["30", "soon", "2027-02-30", "2027-13-01", "2027-1-31", "2027-01-31T25:00:00Z", "2027-01-31 12:00:00Z", "-1d", ""]) {
      expect(parseExpiry(s, NOW)).toEqual({ ok: false, problem: `"${s}" is not a duration or a date; ${EXPIRY_HINT}` });
    }
  });

  test("in the past or no time at all", () => {
    expect(parseExpiry("2020-01-01", NOW)).toEqual({ ok: false, problem: '"2020-01-01" is in the past (now is 2026-11-25T12:00:00.000Z)' });
    expect(parseExpiry("0s", NOW)).toEqual({ ok: false, problem: `"0s" is no time at all; ${EXPIRY_HINT}` });
  });
});

describe("keyInputProblems", () => {
  test("create needs a name; update only checks what it changes", () => {
    expect(keyInputProblems({ name: "a" }, "create")).toEqual([]);
    expect(keyInputProblems({} as { name: string }, "create")).toEqual(["name: a key needs a name (what it is for, who holds it)"]);
    expect(keyInputProblems({ limits: { tpm: 5 } }, "update")).toEqual([]);
  });

  test("unknown limit and quota fields (from an API body) are named", () => {
    const input = JSON.parse('{"limits":{"rqm":5},"quota":{"weekly":5}}') as { limits: object; quota: object };
    expect(keyInputProblems(input, "update")).toEqual(["limits.rqm: unknown limit (rpm, tpm, concurrency)", "quota.weekly: unknown quota (total, daily, monthly)"]);
  });

  test("names: length and control characters", () => {
    expect(keyInputProblems({ name: "x".repeat(201) }, "update")).toEqual(["name: a name is at most 200 characters, got 201"]);
    expect(keyInputProblems({ name: "a\nb" }, "update")).toEqual(["name: a name cannot contain control characters"]);
  });

  test("lists and metadata must have the right types", () => {
    const input = JSON.parse('{"models":"gpt-4o","ips":[5],"metadata":{"k":1}}') as object;
    expect(keyInputProblems(input, "update")).toEqual(["models: must be a list", "ips[0]: must be a string", "metadata: metadata k must be a string"]);
  });
});

describe("keyView", () => {
  const record: KeyRecord = {
    id: "key_aaaaaaaaaaaaaaaa",
    name: "a",
    prefix: "sk-llmp-AbC123",
    hash: "h".repeat(64),
    createdAt: NOW,
    expiresAt: NOW + 1000,
    revokedAt: null,
    models: [],
    ips: [],
    limits: { rpm: 1, tpm: null, concurrency: null },
    quota: { total: null, daily: 10, monthly: null },
    tokensUsed: 5,
    tokensUsedToday: 5,
    tokensUsedThisMonth: 5,
    usageDay: "2026-11-25",
    usageMonth: "2026-11",
    metadata: { team: "x" },
    previousHash: "p".repeat(64),
    previousExpiresAt: NOW + 500,
    updatedAt: NOW,
  };

  test("status: active, expired at its expiry, revoked wins", () => {
    expect(keyStatus(record, NOW)).toBe("active");
    expect(keyStatus(record, NOW + 1000)).toBe("expired");
    expect(keyStatus({ ...record, revokedAt: NOW }, NOW)).toBe("revoked");
  });

  test("never shows a hash; times are ISO; the grace end only while it lasts", () => {
    const view = keyView(record, NOW);
    expect(JSON.stringify(view)).not.toContain("hhhh");
    expect(JSON.stringify(view)).not.toContain("pppp");
    expect(view).toEqual({
      id: record.id,
      name: "a",
      prefix: "sk-llmp-AbC123",
      status: "active",
      createdAt: "2026-11-25T12:00:00.000Z",
      updatedAt: "2026-11-25T12:00:00.000Z",
      expiresAt: "2026-11-25T12:00:01.000Z",
      revokedAt: null,
      models: [],
      ips: [],
      limits: { rpm: 1, tpm: null, concurrency: null },
      quota: { total: null, daily: 10, monthly: null },
      usage: { total: 5, today: 5, thisMonth: 5, day: "2026-11-25", month: "2026-11" },
      metadata: { team: "x" },
      previousSecretValidUntil: "2026-11-25T12:00:00.500Z",
    });
    expect(keyView(record, NOW + 500).previousSecretValidUntil).toBeNull();
  });
});
