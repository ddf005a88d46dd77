// The configuration, in two shapes:
//  - Raw*: what schemas/config.schema.json describes (YAML keys, durations as strings),
//    after ajv has filled in the schema's defaults. The schema is the source of truth;
//    these interfaces follow it and test/unit/config-schema.test.ts keeps them in step.
//  - Config: the normalized form the runtime is built from (milliseconds, bytes,
//    parsed addresses, every override resolved). Nothing downstream reads Raw*.

export type Provider = "openai" | "anthropic" | "gemini" | "azure" | "mock";
export type Strategy = "round_robin" | "weighted" | "least_inflight" | "latency" | "priority";
export type LogLevel = "debug" | "info" | "warn" | "error";

export interface RawTimeouts {
  connect: string;
  first_byte: string;
  idle: string;
  total: string;
}

export interface RawMock {
  tokens: number;
  delay: string;
  first_token_delay: string;
  usage: boolean;
}

export interface RawHealth {
  /** Absent: the provider's default (normalize.ts). */
  path?: string;
  interval: string;
  timeout: string;
  unhealthy_after: number;
  healthy_after: number;
}

export interface RawCircuit {
  failures: number;
  cooldown: string;
  max_cooldown: string;
}

export interface RawBackend {
  name: string;
  url?: string;
  provider: Provider;
  api_version?: string;
  api_key?: string;
  headers: Record<string, string>;
  weight: number;
  max_inflight: number;
  timeouts?: Partial<RawTimeouts>;
  health: RawHealth;
  circuit: RawCircuit;
  mock: RawMock;
}

export interface RawTarget {
  backend: string;
  model?: string;
  weight?: number;
}

export interface RawRoute {
  name: string;
  strategy: Strategy;
  targets: RawTarget[];
  fallback: string[];
}

export interface RawLimitSpec {
  rpm: number;
  tpm: number;
  concurrency: number;
}

export interface RawWebhook {
  url: string;
  secret: string;
  batch: number;
  interval: string;
  timeout: string;
  max_backoff: string;
  headers: Record<string, string>;
}

export interface RawConfig {
  listen: string;
  metering: { flush_interval: string; retention: string; webhook?: RawWebhook };
  database: string;
  auth: "keys" | "none";
  limits: { global: RawLimitSpec; per_key: RawLimitSpec; models: Record<string, RawLimitSpec> };
  admin_token: string;
  server: { max_body: string | number; drain_timeout: string; keepalive_timeout: string; backend_header: boolean };
  backends: RawBackend[];
  models: RawRoute[];
  retries: { attempts: number; backoff: string };
  timeouts: RawTimeouts;
  metrics: { enabled: boolean; path: string; key_labels: boolean };
  log: { level: LogLevel; format: "json" | "text"; access: boolean };
}

// ---- normalized ----

export interface Timeouts {
  connectMs: number;
  firstByteMs: number;
  idleMs: number;
  totalMs: number;
}

export interface ListenAddress {
  host: string;
  port: number;
}

export interface MockSettings {
  tokens: number;
  delayMs: number;
  firstTokenDelayMs: number;
  usage: boolean;
}

export interface HealthSettings {
  path: string;
  /** 0 = no active probes. */
  intervalMs: number;
  timeoutMs: number;
  unhealthyAfter: number;
  healthyAfter: number;
}

export interface CircuitSettings {
  failures: number;
  cooldownMs: number;
  maxCooldownMs: number;
}

export interface BackendConfig {
  name: string;
  provider: Provider;
  /** Base URL without a trailing slash; "" for provider mock (in-process). */
  url: string;
  /** provider azure: the api-version query parameter. */
  apiVersion: string | undefined;
  apiKey: string | undefined;
  headers: Record<string, string>;
  weight: number;
  maxInflight: number;
  timeouts: Timeouts;
  health: HealthSettings;
  circuit: CircuitSettings;
  mock: MockSettings;
}

export interface TargetConfig {
  backend: string;
  /** Model name sent upstream; undefined keeps the client's name. */
  model: string | undefined;
  weight: number;
}

export interface RouteConfig {
  name: string;
  strategy: Strategy;
  targets: TargetConfig[];
  fallback: string[];
}

/** Limits of one scope; null = no limit of that kind (0 in the YAML). */
export interface LimitSettings {
  rpm: number | null;
  tpm: number | null;
  concurrency: number | null;
}

export interface WebhookSettings {
  url: string;
  secret: string;
  batch: number;
  intervalMs: number;
  timeoutMs: number;
  maxBackoffMs: number;
  headers: Record<string, string>;
}

export interface Config {
  listen: ListenAddress;
  metering: { flushIntervalMs: number; retentionMs: number; webhook: WebhookSettings | null };
  /** Absolute path of the SQLite file, or ":memory:". */
  database: string;
  auth: "keys" | "none";
  limits: { global: LimitSettings; perKey: LimitSettings; models: Record<string, LimitSettings> };
  adminToken: string;
  server: { maxBodyBytes: number; drainTimeoutMs: number; keepAliveMs: number; backendHeader: boolean };
  backends: BackendConfig[];
  models: RouteConfig[];
  retries: { attempts: number; backoffMs: number };
  timeouts: Timeouts;
  metrics: { enabled: boolean; path: string; keyLabels: boolean };
  log: { level: LogLevel; format: "json" | "text"; access: boolean };
}

/** One problem found in a config file, with its position when known. */
export interface ConfigIssue {
  /** Dotted path into the config: backends[1].url */
  path: string;
  message: string;
  line?: number;
  col?: number;
}

export interface LoadedConfig {
  config: Config;
  /** sha256 of the normalized config; a reload with the same hash changes nothing. */
  hash: string;
  file: string | null;
}
