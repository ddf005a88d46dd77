// The in-memory view of the key store that every request is checked against: keys by
// the hash of their secret (and of a rotated-out secret still in its grace period),
// with their model and address allowlists compiled once. The hot path never touches
// the database; the keys that changed in it (another process, such as `llmproxy keys
// revoke`, wrote to it: SQLite's data_version tells, its key change log names them) are
// replaced in place, and the whole index is rebuilt only when that log cannot say.

import type { KeyRecord } from "../store/types.ts";
import { compileIpAllowlist } from "./cidr.ts";
import { compileModelGlobs } from "./globs.ts";

export interface IndexedKey {
  readonly record: KeyRecord;
  readonly modelAllowed: (model: string) => boolean;
  readonly ipAllowed: (ip: string) => boolean;
}

/**
 * Keys mostly share their lists (none, or the same few globs): one compiled matcher per
 * distinct list, not per key (10 000 keys cost 5 MB of closures otherwise).
 */
function memo<T>(compile: (list: string[]) => T): (list: string[]) => T {
  const cache = new Map<string, T>();
  return (list) => {
    const id = list.join("\n");
    let m = cache.get(id);
    if (m === undefined) cache.set(id, (m = compile(list)));
    return m;
  };
}

export class KeyIndex {
  private readonly byHash = new Map<string, IndexedKey>();
  /** Hashes of rotated-out secrets, valid until the record's previousExpiresAt. */
  private readonly byPreviousHash = new Map<string, IndexedKey>();
  readonly byId = new Map<string, IndexedKey>();
  private readonly models = memo(compileModelGlobs);
  private readonly ips = memo(compileIpAllowlist);

  constructor(records: readonly KeyRecord[]) {
    for (const record of records) this.add(record);
  }

  /**
   * Replace the keys that changed: a record is the key as it is now, null a key that is
   * gone. A request already admitted keeps the entry it was given.
   */
  apply(changed: ReadonlyMap<string, KeyRecord | null>): void {
    for (const [id, record] of changed) {
      const old = this.byId.get(id);
      if (old) {
        this.byId.delete(id);
        if (this.byHash.get(old.record.hash) === old) this.byHash.delete(old.record.hash);
        if (old.record.previousHash && this.byPreviousHash.get(old.record.previousHash) === old) this.byPreviousHash.delete(old.record.previousHash);
      }
      if (record) this.add(record);
    }
  }

  private add(record: KeyRecord): void {
    const k: IndexedKey = { record, modelAllowed: this.models(record.models), ipAllowed: this.ips(record.ips) };
    this.byHash.set(record.hash, k);
    if (record.previousHash) this.byPreviousHash.set(record.previousHash, k);
    this.byId.set(record.id, k);
  }

  get size(): number {
    return this.byId.size;
  }

  /** The key a secret's hash names, counting a rotated-out secret until its grace ends. */
  lookup(hash: string, nowMs: number): IndexedKey | undefined {
    const k = this.byHash.get(hash);
    if (k) return k;
    const prev = this.byPreviousHash.get(hash);
    if (prev && prev.record.previousExpiresAt !== null && nowMs < prev.record.previousExpiresAt) return prev;
    return undefined;
  }
}
