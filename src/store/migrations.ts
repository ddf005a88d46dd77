// The schema, versioned in code. PRAGMA user_version holds the number of migrations
// applied; each migration runs in its own transaction together with the version bump,
// so a crash leaves the database at one version or the next, never in between.
// Append new migrations; never edit one that has shipped.

import type { Db } from "./db.ts";

export interface Migration {
  /** 1, 2, 3, ...: its position in MIGRATIONS, recorded in PRAGMA user_version. */
  version: number;
  description: string;
  up(db: Db): void;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: "virtual keys and their token counters",
    up(db) {
      // STRICT: a wrong type is an error, not a silently stored string.
      // Times are Unix ms; models, ips and metadata are JSON text (read whole, never queried).
      db.exec(`
        CREATE TABLE keys (
          id                  TEXT PRIMARY KEY,
          name                TEXT NOT NULL,
          prefix              TEXT NOT NULL,
          hash                TEXT NOT NULL UNIQUE,
          created_at          INTEGER NOT NULL,
          updated_at          INTEGER NOT NULL,
          expires_at          INTEGER,
          revoked_at          INTEGER,
          models              TEXT NOT NULL DEFAULT '[]',
          ips                 TEXT NOT NULL DEFAULT '[]',
          rpm                 INTEGER,
          tpm                 INTEGER,
          concurrency         INTEGER,
          quota_total         INTEGER,
          quota_daily         INTEGER,
          quota_monthly       INTEGER,
          metadata            TEXT NOT NULL DEFAULT '{}',
          previous_hash       TEXT,
          previous_expires_at INTEGER
        ) STRICT;
        CREATE INDEX keys_previous_hash ON keys (previous_hash) WHERE previous_hash IS NOT NULL;

        -- Kept apart from keys: the daemon writes here in batches all day long, while
        -- keys rows change only when an operator changes a key (updated_at stays true).
        -- day/month are the UTC period the two period counters belong to ('' = none yet).
        CREATE TABLE key_usage (
          key_id        TEXT PRIMARY KEY REFERENCES keys (id) ON DELETE CASCADE,
          tokens_total  INTEGER NOT NULL DEFAULT 0,
          day           TEXT NOT NULL DEFAULT '',
          tokens_day    INTEGER NOT NULL DEFAULT 0,
          month         TEXT NOT NULL DEFAULT '',
          tokens_month  INTEGER NOT NULL DEFAULT 0
        ) STRICT;
      `);
    },
  },
  {
    version: 2,
    description: "usage records and the webhook outbox",
    up(db) {
      // One row per proxied request, whatever its outcome. id is the gateway's own
      // (time-ordered UUIDv7): request ids come from clients and may repeat. ts is the
      // arrival time (Unix ms); latency and ttft are ms with fractions.
      db.exec(`
        CREATE TABLE usage_records (
          id                TEXT PRIMARY KEY,
          request_id        TEXT NOT NULL,
          ts                INTEGER NOT NULL,
          key_id            TEXT,
          endpoint          TEXT NOT NULL,
          model             TEXT NOT NULL,
          route             TEXT NOT NULL,
          backend           TEXT NOT NULL,
          upstream_model    TEXT NOT NULL,
          stream            INTEGER NOT NULL,
          prompt_tokens     INTEGER NOT NULL,
          completion_tokens INTEGER NOT NULL,
          cached_tokens     INTEGER NOT NULL,
          usage_source      TEXT NOT NULL,
          status            INTEGER NOT NULL,
          error_code        TEXT,
          latency_ms        REAL NOT NULL,
          ttft_ms           REAL,
          retries           INTEGER NOT NULL,
          bytes_in          INTEGER NOT NULL,
          bytes_out         INTEGER NOT NULL,
          client_ip         TEXT NOT NULL,
          traceparent       TEXT
        ) STRICT;
        CREATE INDEX usage_records_ts ON usage_records (ts);
        CREATE INDEX usage_records_key_ts ON usage_records (key_id, ts) WHERE key_id IS NOT NULL;

        -- Records still to be sent to the webhook; a row leaves when the receiver
        -- answered 2xx for its batch. Survives restarts: that is the durability.
        CREATE TABLE webhook_outbox (
          record_id  TEXT PRIMARY KEY REFERENCES usage_records (id) ON DELETE CASCADE,
          queued_at  INTEGER NOT NULL
        ) STRICT;
      `);
    },
  },
  {
    version: 3,
    description: "a change counter for keys and their token counters",
    up(db) {
      // PRAGMA data_version moves when any other connection commits, and the metering
      // worker commits usage records all day long: the daemon must tell a change to the
      // keys (a revoke by the CLI, another daemon's debits) from those, without reading
      // every key. Triggers count the changes to the two key tables here.
      db.exec(`
        CREATE TABLE key_changes (
          id INTEGER PRIMARY KEY CHECK (id = 1),
          n  INTEGER NOT NULL
        ) STRICT;
        INSERT INTO key_changes (id, n) VALUES (1, 0);
      `);
      for (const table of ["keys", "key_usage"]) {
        for (const event of ["INSERT", "UPDATE", "DELETE"]) {
          db.exec(`CREATE TRIGGER ${table}_${event.toLowerCase()}_counted AFTER ${event} ON ${table} BEGIN UPDATE key_changes SET n = n + 1 WHERE id = 1; END`);
        }
      }
    },
  },
  {
    version: 4,
    description: "cache-write tokens in usage records",
    up(db) {
      // Anthropic prices tokens written to its prompt cache apart from the rest of the
      // prompt: a part of prompt_tokens, like cached_tokens (the cache reads).
      db.exec("ALTER TABLE usage_records ADD COLUMN cache_write_tokens INTEGER NOT NULL DEFAULT 0");
    },
  },
  {
    version: 5,
    description: "a log of the keys that changed, so that a daemon re-reads only those",
    up(db) {
      // Migration 3's counter says that some key changed, not which: re-reading 10 000
      // keys held the event loop ~25 ms, at every change by another process (another
      // daemon's quota debits: every second). Triggers name each changed key here; the
      // daemon reads the log past the last entry it saw and prunes the old end.
      db.exec(`
        CREATE TABLE key_change_log (
          seq    INTEGER PRIMARY KEY AUTOINCREMENT,
          key_id TEXT NOT NULL
        ) STRICT;
      `);
      for (const [table, column] of [
        ["keys", "id"],
        ["key_usage", "key_id"],
      ] as const) {
        for (const [event, row] of [
          ["INSERT", "NEW"],
          ["UPDATE", "NEW"],
          ["DELETE", "OLD"],
        ] as const) {
          db.exec(`CREATE TRIGGER ${table}_${event.toLowerCase()}_logged AFTER ${event} ON ${table} BEGIN INSERT INTO key_change_log (key_id) VALUES (${row}.${column}); END`);
        }
      }
    },
  },
  {
    version: 6,
    description: "migration 3's change counter goes: the change log replaced it",
    up(db) {
      // Nothing reads the counter since migration 5; its triggers still wrote it at every
      // change of a key or its token counters (each quota debit).
      for (const table of ["keys", "key_usage"]) {
        for (const event of ["insert", "update", "delete"]) db.exec(`DROP TRIGGER ${table}_${event}_counted`);
      }
      db.exec("DROP TABLE key_changes");
    },
  },
];

/** The database was written by a newer llmproxy; this one must not touch it. */
export class SchemaTooNewError extends Error {
  readonly found: number;
  readonly supported: number;
  constructor(path: string, found: number, supported: number) {
    super(
      `database ${path} has schema version ${found}, but this llmproxy knows only up to ${supported}: ` +
        `it was written by a newer llmproxy; run that version (or restore a backup taken before the upgrade)`,
    );
    this.name = "SchemaTooNewError";
    this.found = found;
    this.supported = supported;
  }
}

function userVersion(db: Db): number {
  return db.prepare<{ user_version: number }>("PRAGMA user_version").get()?.user_version ?? 0;
}

/**
 * Brings the database up to the newest schema. Safe when two processes start at once:
 * the version is read again inside each write transaction, so a migration another
 * process has just applied is skipped, not applied twice.
 */
export function migrate(db: Db, migrations: readonly Migration[] = MIGRATIONS): { from: number; to: number } {
  const target = migrations.length;
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`migrations out of order: #${i + 1} says version ${m.version}`);
  });
  const from = userVersion(db);
  if (from > target) throw new SchemaTooNewError(db.path, from, target);
  for (const m of migrations.slice(from)) {
    db.transaction(() => {
      const now = userVersion(db);
      if (now > target) throw new SchemaTooNewError(db.path, now, target);
      if (now >= m.version) return;
      m.up(db);
      // PRAGMA takes no parameters; version is a number from our own array
      db.exec(`PRAGMA user_version = ${m.version}`);
    });
  }
  return { from, to: Math.max(from, userVersion(db)) };
}
