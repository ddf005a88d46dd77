// A key as operators and tools see it (CLI --json, admin API): times as ISO strings,
// counters of the current period, and never the hash or the previous hash. The secret
// is added only by the two answers that create one (create, rotate).

import type { KeyRecord } from "./types.ts";
import { usageAt } from "./usage.ts";
import type { KeyUsage } from "./usage.ts";

export type KeyStatus = "active" | "revoked" | "expired";

export function keyStatus(r: KeyRecord, now: number): KeyStatus {
  if (r.revokedAt !== null) return "revoked";
  if (r.expiresAt !== null && r.expiresAt <= now) return "expired";
  return "active";
}

export interface KeyView {
  id: string;
  name: string;
  prefix: string;
  status: KeyStatus;
  createdAt: string;
  updatedAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
  models: string[];
  ips: string[];
  limits: KeyRecord["limits"];
  quota: KeyRecord["quota"];
  usage: KeyUsage;
  metadata: Record<string, string>;
  /** After a rotation with a grace time: until when the previous secret still works. */
  previousSecretValidUntil: string | null;
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

export function keyView(r: KeyRecord, now: number): KeyView {
  const graceLeft = r.previousHash !== null && r.previousExpiresAt !== null && r.previousExpiresAt > now;
  return {
    id: r.id,
    name: r.name,
    prefix: r.prefix,
    status: keyStatus(r, now),
    createdAt: new Date(r.createdAt).toISOString(),
    updatedAt: new Date(r.updatedAt).toISOString(),
    expiresAt: iso(r.expiresAt),
    revokedAt: iso(r.revokedAt),
    models: [...r.models],
    ips: [...r.ips],
    limits: { ...r.limits },
    quota: { ...r.quota },
    usage: usageAt(r, now),
    metadata: { ...r.metadata },
    previousSecretValidUntil: graceLeft ? iso(r.previousExpiresAt) : null,
  };
}
