import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { hashSecret, looksLikeSecret } from "../../src/auth/key-secret.ts";
import { InvalidKeyInputError, KeyNotFoundError, KeyRevokedError } from "../../src/store/errors.ts";
import { newKeyId } from "../../src/store/keys.ts";
import { openStore } from "../../src/store/store.ts";
import type { Store } from "../../src/store/store.ts";
import { quotaLeft } from "../../src/store/usage.ts";
import { tempDir } from "../helpers/temp-dir.ts";

const dir = tempDir("keys");
const T0 = Date.UTC(2026, 10, 25, 12, 0, 0); // 2026-11-25T12:00:00Z
const HOUR = 3_600_000;
let n = 0;
let store: Store;

beforeEach(() => {
  store = openStore(join(dir, `keys-${++n}.db`));
});
afterEach(() => store.close());

function throws<E extends Error>(fn: () => unknown, type: new (...args: never[]) => E): E {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(type);
    return err as E;
  }
  throw new Error(`expected ${type.name}`);
}

describe("KeyStore", () => {
  test("ids are key_ and 16 lowercase base32 characters", () => {
    for (let i = 0; i < 100; i++) expect(newKeyId()).toMatch(/^key_[a-z2-7]{16}$/);
  });

  test("create returns the secret once and stores only its hash", () => {
    const { record, secret } = store.keys.create(
      { name: " team-a ", models: ["gpt-4o*"], ips: ["10.0.0.0/8"], limits: { rpm: 60 }, quota: { daily: 1000 }, metadata: { team: "a" }, expiresAt: T0 + HOUR },
      T0,
    );
    expect(looksLikeSecret(secret)).toBe(true);
    expect(record).toEqual({
      id: record.id,
      name: "team-a",
      prefix: secret.slice(0, 14),
      hash: hashSecret(secret),
      createdAt: T0,
      expiresAt: T0 + HOUR,
      revokedAt: null,
      models: ["gpt-4o*"],
      ips: ["10.0.0.0/8"],
      limits: { rpm: 60, tpm: null, concurrency: null },
      quota: { total: null, daily: 1000, monthly: null },
      tokensUsed: 0,
      tokensUsedToday: 0,
      tokensUsedThisMonth: 0,
      usageDay: "",
      usageMonth: "",
      metadata: { team: "a" },
      previousHash: null,
      previousExpiresAt: null,
      updatedAt: T0,
    });
    expect(store.keys.get(record.id)).toEqual(record);
    const raw = JSON.stringify(store.db.prepare("SELECT * FROM keys").all());
    expect(raw).not.toContain(secret);
    expect(raw).not.toContain(secret.slice(14));
  });

  test("get and byHash answer null for what is not there", () => {
    expect(store.keys.get("key_aaaaaaaaaaaaaaaa")).toBeNull();
    expect(store.keys.byHash(hashSecret("sk-llmp-nope"))).toBeNull();
  });

  test("byHash finds a key by its secret's hash", () => {
    const { record, secret } = store.keys.create({ name: "a" }, T0);
    expect(store.keys.byHash(hashSecret(secret), T0)?.id).toBe(record.id);
  });

  test("list gives every key, newest first, revoked and expired ones too", () => {
    const a = store.keys.create({ name: "a" }, T0).record;
    const b = store.keys.create({ name: "b", expiresAt: T0 + 1 }, T0 + 1).record;
    const c = store.keys.create({ name: "c" }, T0 + 1).record;
    store.keys.revoke(a.id, T0 + 2);
    expect(store.keys.list().map((k) => k.name)).toEqual(["c", "b", "a"]);
    expect(store.keys.list().map((k) => k.id)).toEqual([c.id, b.id, a.id]);
  });

  test("update changes what it names and nothing else; null clears", () => {
    const { record } = store.keys.create({ name: "a", limits: { rpm: 60, tpm: 1000 }, quota: { total: 5000 }, metadata: { x: "1" } }, T0);
    const updated = store.keys.update(record.id, { name: "b", limits: { rpm: null, concurrency: 4 }, quota: { monthly: 9000 }, models: ["llama-*"] }, T0 + 5);
    expect(updated).toEqual({
      ...record,
      name: "b",
      models: ["llama-*"],
      limits: { rpm: null, tpm: 1000, concurrency: 4 },
      quota: { total: 5000, daily: null, monthly: 9000 },
      updatedAt: T0 + 5,
    });
    expect(store.keys.get(record.id)).toEqual(updated);
    expect(store.keys.update(record.id, { expiresAt: T0 + HOUR, metadata: {} }, T0 + 6)).toMatchObject({ expiresAt: T0 + HOUR, metadata: {} });
    expect(store.keys.update(record.id, { expiresAt: null }, T0 + 7).expiresAt).toBeNull();
  });

  test("bad input is refused with every problem, and nothing is written", () => {
    const err = throws(
      () => store.keys.create({ name: "", models: ["", "ok*"], ips: ["10.0.0.0/33"], limits: { rpm: 0, tpm: -1 }, quota: { total: 1.5 }, metadata: { "a b": "x" } }, T0),
      InvalidKeyInputError,
    );
    expect(err.code).toBe("invalid_key_input");
    expect(err.problems).toEqual([
      "name: a key needs a name (what it is for, who holds it)",
      "models[0]: a model pattern is empty",
      'ips[0]: prefix length /33 in "10.0.0.0/33" is more than 32, the most an IPv4 address has',
      "limits.rpm: must be a whole number >= 1, got 0",
      "limits.tpm: must be a whole number >= 1, got -1",
      "quota.total: must be a whole number >= 1, got 1.5",
      'metadata: metadata name "a b" may only use letters, digits and _ . : -',
    ]);
    expect(store.keys.list()).toEqual([]);
    const { record } = store.keys.create({ name: "a" }, T0);
    throws(() => store.keys.update(record.id, { name: " " }, T0), InvalidKeyInputError);
    expect(store.keys.get(record.id)).toEqual(record);
  });

  test("an unknown id is a KeyNotFoundError for every operation that needs a key", () => {
    const id = "key_zzzzzzzzzzzzzzzz";
    for (const op of [() => store.keys.update(id, { name: "x" }), () => store.keys.revoke(id), () => store.keys.rotate(id, 0), () => store.keys.usage(id)]) {
      const err = throws(op, KeyNotFoundError);
      expect(err.message).toBe('no key with id "key_zzzzzzzzzzzzzzzz"');
      expect(err.code).toBe("key_not_found");
      expect(err.id).toBe(id);
    }
  });

  test("revoke marks the key once; revoking again changes nothing and says so", () => {
    const { record } = store.keys.create({ name: "a" }, T0);
    const first = store.keys.revoke(record.id, T0 + 10);
    expect(first.alreadyRevoked).toBe(false);
    expect(first.record.revokedAt).toBe(T0 + 10);
    const again = store.keys.revoke(record.id, T0 + 20);
    expect(again.alreadyRevoked).toBe(true);
    expect(again.record.revokedAt).toBe(T0 + 10);
    expect(store.keys.get(record.id)?.revokedAt).toBe(T0 + 10);
  });

  test("rotate with a grace time: both secrets work until it ends, then only the new one", () => {
    const { record, secret: old } = store.keys.create({ name: "a" }, T0);
    const { record: rotated, secret: fresh } = store.keys.rotate(record.id, HOUR, T0 + 100);
    expect(fresh).not.toBe(old);
    expect(rotated).toMatchObject({ id: record.id, hash: hashSecret(fresh), prefix: fresh.slice(0, 14), previousHash: hashSecret(old), previousExpiresAt: T0 + 100 + HOUR });
    expect(store.keys.byHash(hashSecret(fresh), T0 + 100)?.id).toBe(record.id);
    expect(store.keys.byHash(hashSecret(old), T0 + 100 + HOUR - 1)?.id).toBe(record.id);
    expect(store.keys.byHash(hashSecret(old), T0 + 100 + HOUR)).toBeNull();
    expect(store.keys.byHash(hashSecret(fresh), T0 + 100 + HOUR)?.id).toBe(record.id);
  });

  test("rotate with no grace: the old secret stops at once", () => {
    const { record, secret: old } = store.keys.create({ name: "a" }, T0);
    const { record: rotated } = store.keys.rotate(record.id, 0, T0 + 1);
    expect(rotated.previousHash).toBeNull();
    expect(store.keys.byHash(hashSecret(old), T0 + 1)).toBeNull();
  });

  test("rotating again during a grace time ends the older grace", () => {
    const { record, secret: first } = store.keys.create({ name: "a" }, T0);
    const { secret: second } = store.keys.rotate(record.id, HOUR, T0 + 1);
    store.keys.rotate(record.id, HOUR, T0 + 2);
    expect(store.keys.byHash(hashSecret(first), T0 + 3)).toBeNull();
    expect(store.keys.byHash(hashSecret(second), T0 + 3)?.id).toBe(record.id);
  });

  test("a revoked key cannot be rotated; a negative grace is refused", () => {
    const { record } = store.keys.create({ name: "a" }, T0);
    expect(() => store.keys.rotate(record.id, -1, T0)).toThrow(RangeError);
    store.keys.revoke(record.id, T0);
    const err = throws(() => store.keys.rotate(record.id, 0, T0), KeyRevokedError);
    expect(err.code).toBe("key_revoked");
    expect(store.keys.get(record.id)?.hash).toBe(record.hash);
  });
});

describe("KeyStore token counters", () => {
  const DAY = 86_400_000;

  test("debits add to the total, the day and the month of each debit", () => {
    const { record } = store.keys.create({ name: "a" }, T0);
    expect(store.keys.debit([{ keyId: record.id, tokens: 100, at: T0 }, { keyId: record.id, tokens: 50, at: T0 + 1 }])).toBe(2);
    expect(store.keys.get(record.id)).toMatchObject({ tokensUsed: 150, tokensUsedToday: 150, tokensUsedThisMonth: 150, usageDay: "2026-11-25", usageMonth: "2026-11" });
    expect(store.keys.usage(record.id, T0)).toEqual({ total: 150, today: 150, thisMonth: 150, day: "2026-11-25", month: "2026-11" });
  });

  test("a debit on a new UTC day starts the day counter again; the month goes on", () => {
    const { record } = store.keys.create({ name: "a" }, T0);
    const midnight = Date.UTC(2026, 10, 26);
    store.keys.debit([
      { keyId: record.id, tokens: 100, at: midnight - 1 },
      { keyId: record.id, tokens: 7, at: midnight },
    ]);
    expect(store.keys.get(record.id)).toMatchObject({ tokensUsed: 107, tokensUsedToday: 7, usageDay: "2026-11-26", tokensUsedThisMonth: 107, usageMonth: "2026-11" });
  });

  test("a debit in a new UTC month starts both period counters again", () => {
    const { record } = store.keys.create({ name: "a" }, T0);
    const december = Date.UTC(2026, 11, 1);
    store.keys.debit([{ keyId: record.id, tokens: 100, at: december - 1 }]);
    store.keys.debit([{ keyId: record.id, tokens: 3, at: december }]);
    expect(store.keys.get(record.id)).toMatchObject({ tokensUsed: 103, tokensUsedToday: 3, usageDay: "2026-12-01", tokensUsedThisMonth: 3, usageMonth: "2026-12" });
  });

  test("a late debit from an earlier day counts in the total and its month, not in the newer day", () => {
    const { record } = store.keys.create({ name: "a" }, T0);
    store.keys.debit([{ keyId: record.id, tokens: 10, at: T0 + DAY }]);
    store.keys.debit([{ keyId: record.id, tokens: 5, at: T0 }]);
    expect(store.keys.get(record.id)).toMatchObject({ tokensUsed: 15, tokensUsedToday: 10, usageDay: "2026-11-26", tokensUsedThisMonth: 15 });
  });

  test("reading counters after their period ended gives 0 for the new period", () => {
    const { record } = store.keys.create({ name: "a", quota: { total: 1000, daily: 100, monthly: 500 } }, T0);
    store.keys.debit([{ keyId: record.id, tokens: 80, at: T0 }]);
    expect(store.keys.usage(record.id, T0 + DAY)).toEqual({ total: 80, today: 0, thisMonth: 80, day: "2026-11-26", month: "2026-11" });
    const k = store.keys.get(record.id);
    if (!k) throw new Error("gone");
    expect(quotaLeft(k, T0)).toBe(20);
    expect(quotaLeft(k, T0 + DAY)).toBe(100);
    expect(quotaLeft(store.keys.create({ name: "b" }, T0).record, T0)).toBeNull();
  });

  test("one batch is one transaction: a bad debit writes none of it; unknown ids are skipped", () => {
    const { record } = store.keys.create({ name: "a" }, T0);
    expect(() => store.keys.debit([{ keyId: record.id, tokens: 5, at: T0 }, { keyId: record.id, tokens: -1, at: T0 }])).toThrow(RangeError);
    expect(store.keys.get(record.id)?.tokensUsed).toBe(0);
    expect(store.keys.debit([{ keyId: "key_gone", tokens: 5, at: T0 }, { keyId: record.id, tokens: 5, at: T0 }])).toBe(1);
    expect(store.keys.get(record.id)?.tokensUsed).toBe(5);
  });

  test("debits do not change the key's updatedAt (only operators change keys)", () => {
    const { record } = store.keys.create({ name: "a" }, T0);
    store.keys.debit([{ keyId: record.id, tokens: 5, at: T0 + HOUR }]);
    expect(store.keys.get(record.id)?.updatedAt).toBe(T0);
  });
});

describe("keys read back share their common values", () => {
  test("equal lists, limits, quotas and metadata are one frozen object across keys; a changed key gets its own", () => {
    const a = store.keys.create({ name: "a", models: ["llama-*"], limits: { rpm: 60 } });
    const b = store.keys.create({ name: "b", models: ["llama-*"], limits: { rpm: 60 } });
    const [ra, rb] = [a.record.id, b.record.id].map((id) => store.keys.list().find((k) => k.id === id)!);
    for (const f of ["models", "ips", "limits", "quota", "metadata"] as const) {
      expect(ra![f]).toBe(rb![f] as never);
      expect(Object.isFrozen(ra![f])).toBe(true);
    }
    expect(ra!.models).toEqual(["llama-*"]);
    expect(ra!.limits).toEqual({ rpm: 60, tpm: null, concurrency: null });
    // nobody can change a shared value in place, for one key or all
    expect(() => (ra!.models as string[]).push("gpt-*")).toThrow(TypeError);

    const changed = store.keys.update(b.record.id, { models: ["gpt-*"], limits: { rpm: 5 } });
    const again = store.keys.list().find((k) => k.id === a.record.id)!;
    expect(changed.models).toEqual(["gpt-*"]);
    expect(changed.limits.rpm).toBe(5);
    expect(again.models).toEqual(["llama-*"]);
    expect(again.limits.rpm).toBe(60);
  });

  test("a long list is each key's own (the sharing is bounded)", () => {
    const long = Array.from({ length: 30 }, (_, i) => `model-family-${i}-*`);
    const a = store.keys.create({ name: "a", models: long });
    const b = store.keys.create({ name: "b", models: long });
    const [ra, rb] = [a.record.id, b.record.id].map((id) => store.keys.list().find((k) => k.id === id)!);
    expect(ra!.models).toEqual(long);
    expect(ra!.models).not.toBe(rb!.models);
  });
});
