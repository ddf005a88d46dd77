// The in-memory view of the key store that every request is checked against: keys by
// the hash of their secret (and of a rotated-out secret still in its grace period),
// with their model and address allowlists compiled once. The hot path never touches
// the database; the index is rebuilt when the database changes (another process, such
// as `llmproxy keys revoke`, wrote to it: SQLite's data_version tells).

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

  constructor(records: readonly KeyRecord[]) {
    const models = memo(compileModelGlobs);
    const ips = memo(compileIpAllowlist);
    for (const record of records) {
      const k: IndexedKey = { record, modelAllowed: models(record.models), ipAllowed: ips(record.ips) };
      this.byHash.set(record.hash, k);
      if (record.previousHash) this.byPreviousHash.set(record.previousHash, k);
      this.byId.set(record.id, k);
    }
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
