// Virtual keys in SQLite. create and rotate are the only places a secret exists: it is
// returned once and only its SHA-256 is written. Every write is one transaction, so the
// daemon (polling PRAGMA data_version) never sees half a change.

import { randomBytes } from "node:crypto";
import { generateSecret, hashSecret, secretPrefix } from "../auth/key-secret.ts";
import type { Db, Statement } from "./db.ts";
import { InvalidKeyInputError, KeyNotFoundError, KeyRevokedError } from "./errors.ts";
import { keyInputProblems } from "./key-input.ts";
import { KEY_COLUMNS, keyValues, rowToRecord, SELECT_KEY } from "./key-rows.ts";
import type { KeyRow } from "./key-rows.ts";
import type { KeyRecord, KeyPatch, NewKey, UsageDebit } from "./types.ts";
import { usageAt, utcDay } from "./usage.ts";
import { KeyChangeLog } from "./key-change-log.ts";
import { KeyDebits } from "./key-debits.ts";
import type { KeyUsage } from "./usage.ts";

const BASE32 = "abcdefghijklmnopqrstuvwxyz234567";

/** "key_" + 16 lowercase base32 characters: 80 random bits, 5 per character, no bias. */
export function newKeyId(): string {
  const bytes = randomBytes(10);
  let bits = 0;
  let value = 0;
  let out = "key_";
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= (1 << bits) - 1;
  }
  return out;
}

export interface IssuedKey {
  record: KeyRecord;
  /** The only copy of the secret: show it to the operator once, never store or log it. */
  secret: string;
}

export class KeyStore {
  readonly #db: Db;
  readonly #byId: Statement<KeyRow>;
  readonly #byHash: Statement<KeyRow>;
  readonly #byPreviousHash: Statement<KeyRow>;
  readonly #all: Statement<KeyRow>;
  readonly #insert: Statement<unknown>;
  readonly #insertUsage: Statement<unknown>;
  readonly #update: Statement<unknown>;
  readonly #debits: KeyDebits;
  /** Which keys changed, by any connection (migration 5). */
  readonly changeLog: KeyChangeLog;

  constructor(db: Db) {
    this.#db = db;
    this.#byId = db.prepare<KeyRow>(`${SELECT_KEY} WHERE k.id = ?`);
    this.#byHash = db.prepare<KeyRow>(`${SELECT_KEY} WHERE k.hash = ?`);
    this.#byPreviousHash = db.prepare<KeyRow>(`${SELECT_KEY} WHERE k.previous_hash = ? AND k.previous_expires_at > ?`);
    // rowid breaks ties between keys created in the same millisecond: newest first still
    this.#all = db.prepare<KeyRow>(`${SELECT_KEY} ORDER BY k.created_at DESC, k.rowid DESC`);
    this.#insert = db.prepare(`INSERT INTO keys (id, ${KEY_COLUMNS.join(", ")}) VALUES (?${", ?".repeat(KEY_COLUMNS.length)})`);
    this.#insertUsage = db.prepare("INSERT INTO key_usage (key_id) VALUES (?)");
    this.#update = db.prepare(`UPDATE keys SET ${KEY_COLUMNS.map((c) => `${c} = ?`).join(", ")} WHERE id = ?`);
    this.changeLog = new KeyChangeLog(db);
    this.#debits = new KeyDebits(db);
  }

  create(input: NewKey, now: number = Date.now()): IssuedKey {
    check(input, "create");
    const secret = generateSecret();
    const record: KeyRecord = {
      id: newKeyId(),
      name: input.name.trim(),
      prefix: secretPrefix(secret),
      hash: hashSecret(secret),
      createdAt: now,
      expiresAt: input.expiresAt ?? null,
      revokedAt: null,
      models: [...(input.models ?? [])],
      ips: [...(input.ips ?? [])],
      limits: { rpm: null, tpm: null, concurrency: null, ...input.limits },
      quota: { total: null, daily: null, monthly: null, ...input.quota },
      tokensUsed: 0,
      tokensUsedToday: 0,
      tokensUsedThisMonth: 0,
      usageDay: "",
      usageMonth: "",
      metadata: { ...input.metadata },
      previousHash: null,
      previousExpiresAt: null,
      updatedAt: now,
    };
    this.#db.transaction(() => {
      this.#insert.run(record.id, ...keyValues(record));
      this.#insertUsage.run(record.id);
    });
    return { record, secret };
  }

  /** Every key, revoked and expired ones too, newest first. */
  list(): KeyRecord[] {
    return this.#all.all().map(rowToRecord);
  }

  /** The key, or null when there is none with this id. */
  get(id: string): KeyRecord | null {
    const row = this.#byId.get(id);
    return row ? rowToRecord(row) : null;
  }

  /** The key whose current secret, or previous secret still in its grace time, has this hash. */
  byHash(hash: string, now: number = Date.now()): KeyRecord | null {
    const row = this.#byHash.get(hash) ?? this.#byPreviousHash.get(hash, now);
    return row ? rowToRecord(row) : null;
  }

  /** Changes settings (null clears one: no expiry, the config's default limit, no quota). */
  update(id: string, patch: KeyPatch, now: number = Date.now()): KeyRecord {
    check(patch, "update");
    return this.#db.transaction(() => {
      const old = this.#require(id);
      const next: KeyRecord = {
        ...old,
        name: patch.name !== undefined ? patch.name.trim() : old.name,
        expiresAt: patch.expiresAt !== undefined ? patch.expiresAt : old.expiresAt,
        models: patch.models !== undefined ? [...patch.models] : old.models,
        ips: patch.ips !== undefined ? [...patch.ips] : old.ips,
        limits: { ...old.limits, ...patch.limits },
        quota: { ...old.quota, ...patch.quota },
        metadata: patch.metadata !== undefined ? { ...patch.metadata } : old.metadata,
        updatedAt: now,
      };
      this.#write(next);
      return next;
    });
  }

  /** Marks the key revoked. Revoking a revoked key changes nothing and says so. */
  revoke(id: string, now: number = Date.now()): { record: KeyRecord; alreadyRevoked: boolean } {
    return this.#db.transaction(() => {
      const old = this.#require(id);
      if (old.revokedAt !== null) return { record: old, alreadyRevoked: true };
      const next: KeyRecord = { ...old, revokedAt: now, updatedAt: now };
      this.#write(next);
      return { record: next, alreadyRevoked: false };
    });
  }

  /**
   * Gives the key a new secret. The old one keeps working until now + graceMs (0: stops
   * at once), so clients can switch without an outage. Only one previous secret is kept:
   * rotating again during a grace time ends the older grace at once.
   */
  rotate(id: string, graceMs: number, now: number = Date.now()): IssuedKey {
    if (!Number.isSafeInteger(graceMs) || graceMs < 0) throw new RangeError(`grace must be a whole number of ms >= 0, got ${graceMs}`);
    const secret = generateSecret();
    const record = this.#db.transaction(() => {
      const old = this.#require(id);
      if (old.revokedAt !== null) throw new KeyRevokedError(id);
      const next: KeyRecord = {
        ...old,
        prefix: secretPrefix(secret),
        hash: hashSecret(secret),
        previousHash: graceMs > 0 ? old.hash : null,
        previousExpiresAt: graceMs > 0 ? now + graceMs : null,
        updatedAt: now,
      };
      this.#write(next);
      return next;
    });
    return { record, secret };
  }

  /** Adds a batch of debits in one transaction (key-debits.ts); returns how many were applied. */
  debit(batch: readonly UsageDebit[]): number {
    return this.#debits.apply(batch);
  }

  /** The key's counters as they stand at `now`. */
  usage(id: string, now: number = Date.now()): KeyUsage {
    return usageAt(this.#require(id), now);
  }

  #require(id: string): KeyRecord {
    const record = this.get(id);
    if (!record) throw new KeyNotFoundError(id);
    return record;
  }

  #write(r: KeyRecord): void {
    this.#update.run(...keyValues(r), r.id);
  }
}

function check(input: NewKey | KeyPatch, mode: "create" | "update"): void {
  const problems = keyInputProblems(input, mode);
  if (problems.length > 0) throw new InvalidKeyInputError(problems);
}
