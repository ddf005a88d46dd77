// The schema is the single source of truth: these tests keep its documentation, the
// TypeScript types and the golden "full" fixture in step with it.

import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import schema from "../../schemas/config.schema.json" with { type: "json" };
import { loadConfigFile, loadConfigText } from "../../src/config/load.ts";
import type { RawBackend, RawCircuit, RawConfig, RawHealth, RawLimitSpec, RawWebhook, RawMock, RawRoute, RawTarget, RawTimeouts } from "../../src/config/types.ts";

type SchemaNode = {
  $ref?: string;
  type?: string | string[];
  description?: string;
  default?: unknown;
  required?: string[];
  properties?: Record<string, SchemaNode>;
  patternProperties?: Record<string, SchemaNode>;
  items?: SchemaNode;
  anyOf?: SchemaNode[];
};

const root = schema as unknown as SchemaNode & { definitions: Record<string, SchemaNode> };

function deref(node: SchemaNode): SchemaNode {
  if (!node.$ref) return node;
  const name = node.$ref.replace("#/definitions/", "");
  const target = root.definitions[name];
  if (!target) throw new Error(`unknown $ref ${node.$ref}`);
  return { ...target, ...node, $ref: undefined };
}

/** Every schema object that has properties, with where it is. */
function objectSchemas(): { where: string; node: SchemaNode }[] {
  const out: { where: string; node: SchemaNode }[] = [];
  const walk = (node: SchemaNode, where: string) => {
    if (node.properties) {
      out.push({ where, node });
      for (const [k, v] of Object.entries(node.properties)) walk(v, `${where}.properties.${k}`);
    }
  };
  walk(root, "#");
  for (const [name, def] of Object.entries(root.definitions)) walk(def, `#/definitions/${name}`);
  return out;
}

// Properties whose absence means something, so they have no default.
const NO_DEFAULT = new Set([
  "#/definitions/backend.url", // required unless provider mock (a semantic check)
  "#/definitions/backend.api_key", // absent = no Authorization header
  "#/definitions/backend.api_version", // provider azure only, and required there (a semantic check)
  "#/definitions/health.path", // absent = the provider's default (normalize.ts)
  "#/definitions/backend.timeouts", // absent = the global timeouts
  "#/definitions/target.model", // absent = the client's model name
  "#/definitions/target.weight", // absent = the backend's weight
  "#.properties.metering.webhook", // absent = no webhook
  "#/definitions/timeouts_override.connect",
  "#/definitions/timeouts_override.first_byte",
  "#/definitions/timeouts_override.idle",
  "#/definitions/timeouts_override.total",
]);

describe("the schema documents every property", () => {
  for (const { where, node } of objectSchemas()) {
    test(`${where}: every property has a description, every optional one a default`, () => {
      const required = new Set(node.required ?? []);
      for (const [key, prop] of Object.entries(node.properties ?? {})) {
        expect({ property: `${where}.${key}`, description: typeof prop.description === "string" && prop.description.length > 10 }).toEqual({
          property: `${where}.${key}`,
          description: true,
        });
        if (required.has(key)) continue;
        const hasDefault = prop.default !== undefined || NO_DEFAULT.has(`${where}.${key}`);
        expect({ property: `${where}.${key}`, hasDefault }).toEqual({ property: `${where}.${key}`, hasDefault: true });
      }
      for (const [pattern, prop] of Object.entries(node.patternProperties ?? {})) {
        expect({ pattern, description: typeof prop.description === "string" }).toEqual({ pattern, description: true });
      }
    });
  }

  test("the schema itself has a title and a description", () => {
    expect(typeof (schema as { title?: unknown }).title).toBe("string");
    expect(typeof root.description).toBe("string");
  });
});

// ---- the Raw* types have exactly the schema's keys (tsc checks one side, the test the other)

type Same<A extends PropertyKey, B extends PropertyKey> = [Exclude<A, B>, Exclude<B, A>] extends [never, never] ? true : false;
function typesMatch<T extends true>(): T | undefined {
  return undefined;
}

const keys = <T>() => <const K extends readonly (keyof T)[]>(...k: K) => k;
const ROOT_KEYS = keys<RawConfig>()("listen", "metering", "database", "auth", "limits", "admin_token", "server", "backends", "models", "retries", "timeouts", "metrics", "log");
const SERVER_KEYS = keys<RawConfig["server"]>()("max_body", "drain_timeout", "keepalive_timeout", "backend_header");
const RETRIES_KEYS = keys<RawConfig["retries"]>()("attempts", "backoff");
const METRICS_KEYS = keys<RawConfig["metrics"]>()("enabled", "path", "key_labels");
const LOG_KEYS = keys<RawConfig["log"]>()("level", "format", "access");
const TIMEOUTS_KEYS = keys<RawTimeouts>()("connect", "first_byte", "idle", "total");
const OVERRIDE_KEYS = keys<NonNullable<RawBackend["timeouts"]>>()("connect", "first_byte", "idle", "total");
const BACKEND_KEYS = keys<RawBackend>()("name", "url", "provider", "api_version", "api_key", "headers", "weight", "max_inflight", "timeouts", "health", "circuit", "mock");
const MOCK_KEYS = keys<RawMock>()("tokens", "delay", "first_token_delay", "usage");
const METERING_KEYS = keys<RawConfig["metering"]>()("flush_interval", "retention", "webhook");
const WEBHOOK_KEYS = keys<RawWebhook>()("url", "secret", "batch", "interval", "timeout", "max_backoff", "headers");
const LIMITS_KEYS = keys<RawConfig["limits"]>()("global", "per_key", "models");
const LIMIT_SPEC_KEYS = keys<RawLimitSpec>()("rpm", "tpm", "concurrency");
const HEALTH_KEYS = keys<RawHealth>()("path", "interval", "timeout", "unhealthy_after", "healthy_after");
const CIRCUIT_KEYS = keys<RawCircuit>()("failures", "cooldown", "max_cooldown");
const ROUTE_KEYS = keys<RawRoute>()("name", "strategy", "targets", "fallback");
const TARGET_KEYS = keys<RawTarget>()("backend", "model", "weight");

typesMatch<Same<keyof RawConfig, (typeof ROOT_KEYS)[number]>>();
typesMatch<Same<keyof RawConfig["server"], (typeof SERVER_KEYS)[number]>>();
typesMatch<Same<keyof RawConfig["retries"], (typeof RETRIES_KEYS)[number]>>();
typesMatch<Same<keyof RawConfig["metrics"], (typeof METRICS_KEYS)[number]>>();
typesMatch<Same<keyof RawConfig["log"], (typeof LOG_KEYS)[number]>>();
typesMatch<Same<keyof RawTimeouts, (typeof TIMEOUTS_KEYS)[number]>>();
typesMatch<Same<keyof NonNullable<RawBackend["timeouts"]>, (typeof OVERRIDE_KEYS)[number]>>();
typesMatch<Same<keyof RawBackend, (typeof BACKEND_KEYS)[number]>>();
typesMatch<Same<keyof RawMock, (typeof MOCK_KEYS)[number]>>();
typesMatch<Same<keyof RawConfig["metering"], (typeof METERING_KEYS)[number]>>();
typesMatch<Same<keyof RawWebhook, (typeof WEBHOOK_KEYS)[number]>>();
typesMatch<Same<keyof RawConfig["limits"], (typeof LIMITS_KEYS)[number]>>();
typesMatch<Same<keyof RawLimitSpec, (typeof LIMIT_SPEC_KEYS)[number]>>();
typesMatch<Same<keyof RawHealth, (typeof HEALTH_KEYS)[number]>>();
typesMatch<Same<keyof RawCircuit, (typeof CIRCUIT_KEYS)[number]>>();
typesMatch<Same<keyof RawRoute, (typeof ROUTE_KEYS)[number]>>();
typesMatch<Same<keyof RawTarget, (typeof TARGET_KEYS)[number]>>();

const TYPE_OF_SCHEMA: Record<string, readonly string[]> = {
  "#": ROOT_KEYS,
  "#.properties.server": SERVER_KEYS,
  "#.properties.retries": RETRIES_KEYS,
  "#.properties.metrics": METRICS_KEYS,
  "#.properties.log": LOG_KEYS,
  "#/definitions/timeouts": TIMEOUTS_KEYS,
  "#/definitions/timeouts_override": OVERRIDE_KEYS,
  "#/definitions/backend": BACKEND_KEYS,
  "#/definitions/mock": MOCK_KEYS,
  "#/definitions/health": HEALTH_KEYS,
  "#.properties.limits": LIMITS_KEYS,
  "#.properties.metering": METERING_KEYS,
  "#/definitions/webhook": WEBHOOK_KEYS,
  "#/definitions/limit_spec": LIMIT_SPEC_KEYS,
  "#/definitions/circuit": CIRCUIT_KEYS,
  "#/definitions/route": ROUTE_KEYS,
  "#/definitions/target": TARGET_KEYS,
};

test("every object of the schema has a Raw type with exactly its keys", () => {
  const schemas = objectSchemas();
  expect(schemas.map((s) => s.where).sort()).toEqual(Object.keys(TYPE_OF_SCHEMA).sort());
  for (const { where, node } of schemas) {
    expect({ where, keys: Object.keys(node.properties ?? {}).sort() }).toEqual({ where, keys: [...(TYPE_OF_SCHEMA[where] ?? [])].sort() });
  }
});

// ---- the full fixture sets everything, and normalizing it leaves nothing undefined

const FULL = fileURLToPath(new URL("../fixtures/config/valid/full.yaml", import.meta.url));

test("valid/full.yaml sets every property of the schema", () => {
  const unset: string[] = [];
  const walk = (node: SchemaNode, values: unknown[], where: string) => {
    node = deref(node);
    if (node.properties) {
      const maps = values.filter((v): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v));
      for (const [key, prop] of Object.entries(node.properties)) {
        const set = maps.map((m) => m[key]).filter((v) => v !== undefined);
        if (set.length === 0) unset.push(`${where}.${key}`);
        else walk(prop, set, `${where}.${key}`);
      }
    } else if (node.items) {
      walk(node.items, values.flatMap((v) => (Array.isArray(v) ? v : [])), `${where}[]`);
    }
  };
  walk(root, [parse(readFileSync(FULL, "utf8"))], "config");
  expect(unset).toEqual([]);
});

test("normalizing valid/full.yaml gives a value for every field", async () => {
  const r = await loadConfigFile(FULL, { FIXTURE_API_KEY: "sk-fixture", FIXTURE_ADMIN_TOKEN: "admin-fixture" });
  expect(r.ok).toBe(true);
  if (!r.ok) return;
  const undefinedAt: string[] = [];
  const walk = (v: unknown, where: string) => {
    if (v === undefined) undefinedAt.push(where);
    else if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${where}[${i}]`));
    else if (v !== null && typeof v === "object") for (const [k, x] of Object.entries(v)) walk(x, `${where}.${k}`);
  };
  walk(r.loaded.config, "config");
  // api_version is only for azure; the azure and mock backends have no api_key; the
  // second target of llama-3-8b keeps the client's model name on purpose
  expect(undefinedAt).toEqual([
    "config.backends[0].apiVersion",
    "config.backends[1].apiKey",
    "config.backends[2].apiVersion",
    "config.backends[2].apiKey",
    "config.models[0].targets[1].model",
  ]);
});

test("the health probe's default path follows the provider and the form of the url", () => {
  const r = loadConfigText(
    `backends:
  - { name: vllm, provider: openai, url: "http://10.0.0.5:8000" }
  - { name: deepseek, provider: openai, url: "https://api.deepseek.com/v1" }
  - { name: claude, provider: anthropic, url: "https://api.anthropic.com" }
  - { name: gemini, provider: gemini, url: "https://generativelanguage.googleapis.com" }
  - { name: azure, provider: azure, url: "https://r.openai.azure.com", api_version: "2024-10-21" }
  - { name: fake, provider: mock }
  - { name: own, provider: openai, url: "http://10.0.0.6:8000", health: { path: /health } }
models:
  - { name: m, targets: [{ backend: vllm }] }
`,
    "probes.yaml",
    {},
  );
  expect(r.ok).toBe(true);
  if (!r.ok) return;
  expect(Object.fromEntries(r.loaded.config.backends.map((b) => [b.name, b.health.path]))).toEqual({
    vllm: "/v1/models",
    deepseek: "/models",
    claude: "/v1/models",
    gemini: "/v1beta/models",
    azure: "/openai/models?api-version=2024-10-21",
    fake: "/v1/models",
    own: "/health",
  });
});
