// What the key store holds. The secret itself is never stored: only its SHA-256.

export type QuotaPeriod = "day" | "month";

export interface KeyLimits {
  /** Requests per minute; null = the config's per_key default (or none). */
  rpm: number | null;
  /** Tokens (prompt + completion) per minute; null = default. */
  tpm: number | null;
  /** Requests in flight at once; null = default. */
  concurrency: number | null;
}

export interface KeyQuota {
  /** Tokens over the key's whole life; null = no total quota. */
  total: number | null;
  /** Tokens per UTC calendar day; null = none. */
  daily: number | null;
  /** Tokens per UTC calendar month; null = none. */
  monthly: number | null;
}

export interface KeyRecord {
  /** Stable id, "key_" + 16 lowercase base32 chars; what logs, metrics and the CLI name. */
  id: string;
  name: string;
  /** The secret's first characters ("sk-llmp-AbC123"), to recognize a key without it. */
  prefix: string;
  /** sha256 hex of the secret. */
  hash: string;
  /** Unix ms. */
  createdAt: number;
  expiresAt: number | null;
  revokedAt: number | null;
  /** Model-name globs the key may use ("gpt-4o*", "llama-*"); empty = every model. */
  models: string[];
  /** Client address ranges (CIDR, IPv4 or IPv6; a bare address is a /32 or /128); empty = any. */
  ips: string[];
  limits: KeyLimits;
  quota: KeyQuota;
  /** Tokens used so far (all time), as last persisted. */
  tokensUsed: number;
  /** Tokens used in the current UTC day and month, as last persisted. */
  tokensUsedToday: number;
  tokensUsedThisMonth: number;
  /** The UTC day ("2026-11-25") and month ("2026-11") the two counters above belong to. */
  usageDay: string;
  usageMonth: string;
  metadata: Record<string, string>;
  /** After a rotation: the previous secret's hash, accepted until previousExpiresAt. */
  previousHash: string | null;
  previousExpiresAt: number | null;
  updatedAt: number;
}

export interface NewKey {
  name: string;
  expiresAt?: number | null;
  models?: string[];
  ips?: string[];
  limits?: Partial<KeyLimits>;
  quota?: Partial<KeyQuota>;
  metadata?: Record<string, string>;
}

/** Fields an update may change (not the secret: that is rotate). */
export type KeyPatch = Partial<Pick<KeyRecord, "name" | "expiresAt" | "models" | "ips" | "metadata">> & {
  limits?: Partial<KeyLimits>;
  quota?: Partial<KeyQuota>;
};

/** Tokens to add to a key's counters (one flush of the daemon's quota debits). */
export interface UsageDebit {
  keyId: string;
  tokens: number;
  /** Unix ms of the usage, which decides its day and month. */
  at: number;
}
