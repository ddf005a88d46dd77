// Raw (YAML shape, defaults filled in, already checked) → Config (what the runtime is
// built from): milliseconds, bytes, a parsed address, overrides resolved. Everything
// here may assume the config passed the schema and the semantic checks.

import { createHash } from "node:crypto";
import { isApiBase, normalizeBaseUrl } from "./http-url.ts";
import { parseListen } from "./listen.ts";
import { dirname, isAbsolute, resolve } from "node:path";
import type { BackendConfig, Config, LimitSettings, RawBackend, RawConfig, RawLimitSpec, RawTimeouts, RouteConfig, Timeouts } from "./types.ts";
import { parseDuration, parseSize } from "./units.ts";

function ms(s: string): number {
  const v = parseDuration(s);
  if (v === null) throw new Error(`normalize: unchecked duration ${JSON.stringify(s)}`);
  return v;
}

function timeouts(t: RawTimeouts): Timeouts {
  return { connectMs: ms(t.connect), firstByteMs: ms(t.first_byte), idleMs: ms(t.idle), totalMs: ms(t.total) };
}

/** A GET every backend of the provider answers with 2xx when it is up and the credentials work. */
function defaultProbePath(b: RawBackend): string {
  switch (b.provider) {
    case "gemini":
      return "/v1beta/models";
    case "azure":
      return `/openai/models?api-version=${b.api_version ?? ""}`;
    default:
      // an API base (https://api.deepseek.com/v1) has its version in it already
      return b.url !== undefined && b.provider !== "mock" && isApiBase(b.url) ? "/models" : "/v1/models";
  }
}

function backend(b: RawBackend, global: RawTimeouts): BackendConfig {
  return {
    name: b.name,
    provider: b.provider,
    // the mock runs in-process; a url given to it is not used
    url: b.provider === "mock" || b.url === undefined ? "" : normalizeBaseUrl(b.url),
    apiVersion: b.api_version,
    apiKey: b.api_key,
    headers: { ...b.headers },
    weight: b.weight,
    maxInflight: b.max_inflight,
    timeouts: timeouts({ ...global, ...b.timeouts }),
    health: {
      path: b.health.path ?? defaultProbePath(b),
      intervalMs: ms(b.health.interval),
      timeoutMs: ms(b.health.timeout),
      unhealthyAfter: b.health.unhealthy_after,
      healthyAfter: b.health.healthy_after,
    },
    circuit: { failures: b.circuit.failures, cooldownMs: ms(b.circuit.cooldown), maxCooldownMs: ms(b.circuit.max_cooldown) },
    mock: {
      tokens: b.mock.tokens,
      delayMs: ms(b.mock.delay),
      firstTokenDelayMs: ms(b.mock.first_token_delay),
      usage: b.mock.usage,
    },
  };
}

function limitSpec(l: RawLimitSpec): LimitSettings {
  return { rpm: l.rpm || null, tpm: l.tpm || null, concurrency: l.concurrency || null };
}

/** The database path: as given when absolute or ":memory:", else beside the config file. */
function databasePath(db: string, file: string | null): string {
  if (db === ":memory:" || isAbsolute(db)) return db;
  return resolve(file ? dirname(file) : process.cwd(), db);
}

export function normalize(raw: RawConfig, file: string | null = null): Config {
  const listen = parseListen(raw.listen);
  const maxBody = parseSize(raw.server.max_body);
  if (!listen || maxBody === null) throw new Error("normalize: unchecked listen or max_body");
  const backends = raw.backends.map((b) => backend(b, raw.timeouts));
  const weightOf = new Map(backends.map((b) => [b.name, b.weight]));
  const models: RouteConfig[] = raw.models.map((r) => ({
    name: r.name,
    strategy: r.strategy,
    targets: r.targets.map((t) => ({ backend: t.backend, model: t.model, weight: t.weight ?? weightOf.get(t.backend) ?? 1 })),
    fallback: [...r.fallback],
  }));
  return deepFreeze({
    listen,
    metering: {
      flushIntervalMs: ms(raw.metering.flush_interval),
      retentionMs: ms(raw.metering.retention),
      webhook: raw.metering.webhook
        ? {
            url: raw.metering.webhook.url,
            secret: raw.metering.webhook.secret,
            batch: raw.metering.webhook.batch,
            intervalMs: ms(raw.metering.webhook.interval),
            timeoutMs: ms(raw.metering.webhook.timeout),
            maxBackoffMs: ms(raw.metering.webhook.max_backoff),
            headers: { ...raw.metering.webhook.headers },
          }
        : null,
    },
    database: databasePath(raw.database, file),
    auth: raw.auth,
    limits: {
      global: limitSpec(raw.limits.global),
      perKey: limitSpec(raw.limits.per_key),
      models: Object.fromEntries(Object.entries(raw.limits.models).map(([k, v]) => [k, limitSpec(v)])),
    },
    adminToken: raw.admin_token,
    server: {
      maxBodyBytes: maxBody,
      drainTimeoutMs: ms(raw.server.drain_timeout),
      keepAliveMs: ms(raw.server.keepalive_timeout),
      backendHeader: raw.server.backend_header,
    },
    backends,
    models,
    retries: { attempts: raw.retries.attempts, backoffMs: ms(raw.retries.backoff) },
    timeouts: timeouts(raw.timeouts),
    metrics: { enabled: raw.metrics.enabled, path: raw.metrics.path, keyLabels: raw.metrics.key_labels },
    log: { level: raw.log.level, format: raw.log.format, access: raw.log.access },
  });
}

export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/** JSON with object keys sorted at every level and undefined fields left out. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v === null || typeof v !== "object" || Array.isArray(v)) return v;
    const sorted: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) sorted[k] = (v as Record<string, unknown>)[k];
    return sorted;
  });
}

/** sha256 (hex) of the canonical JSON: equal configs have equal hashes. */
export function configHash(config: Config): string {
  return createHash("sha256").update(canonicalJson(config)).digest("hex");
}
