// The config schema (schemas/config.schema.json), compiled by ajv at build time into
// config-validator.generated.js (scripts/gen-config-validator.ts), and ajv's errors
// turned into messages an operator can act on.

import type { ErrorObject } from "ajv";
import schemaJson from "../../schemas/config.schema.json" with { type: "json" };
import validate from "./config-validator.generated.js";
import { httpUrlProblem } from "./http-url.ts";
import { LISTEN_HINT, listenProblem } from "./listen.ts";
import { pointerToPath } from "./paths.ts";
import type { ConfigPath, PathSegment, PendingIssue } from "./paths.ts";
import { DURATION_HINT, SIZE_HINT } from "./units.ts";

export const CONFIG_SCHEMA = schemaJson;

/** The providers the schema knows; every one but mock needs a url. */
export const PROVIDERS: readonly string[] = schemaJson.definitions.backend.properties.provider.enum;

/**
 * Check data against the schema, filling in defaults (data is modified in place).
 * Returns one issue per real problem.
 */
export function schemaIssues(data: unknown): PendingIssue[] {
  if (validate(data)) return [];
  const errors = validate.errors ?? [];
  // anyOf reports every branch's failure and then itself. Keep one message per anyOf:
  // the first branch error that is not a `const` alternative, worded with the alternatives.
  const anyOfPaths = errors.filter((e) => e.keyword === "anyOf").map((e) => e.instancePath);
  const underAnyOf = (p: string) => anyOfPaths.some((a) => p === a || p.startsWith(a + "/"));
  const issues: PendingIssue[] = [];
  for (const e of errors) {
    let issue: PendingIssue | null;
    if (e.keyword === "anyOf") {
      const branch = errors.find((b) => b.instancePath === e.instancePath && b.keyword !== "anyOf" && b.keyword !== "const");
      issue = toIssue(branch ?? e, data, alternatives(e));
    } else if (underAnyOf(e.instancePath)) {
      continue;
    } else {
      issue = toIssue(e, data);
    }
    if (issue) issues.push(issue);
  }
  return issues;
}

function alternatives(anyOf: ErrorObject): string[] {
  const branches = (anyOf.parentSchema as { anyOf?: { const?: unknown }[] } | undefined)?.anyOf ?? [];
  return branches.filter((b) => b.const !== undefined).map((b) => JSON.stringify(b.const));
}

function toIssue(e: ErrorObject, root: unknown, alts: string[] = []): PendingIssue | null {
  const path = pointerToPath(e.instancePath, root);
  const parent = (e.parentSchema ?? {}) as { properties?: Record<string, unknown>; format?: string; enum?: unknown[] };
  const base = { path };
  const or = alts.length ? `, or ${alts.join(" or ")}` : "";
  const params = e.params as Record<string, unknown>;
  const got = isSecretPath(path) ? kind(e.data) : show(e.data);
  switch (e.keyword) {
    case "additionalProperties": {
      const key = String(params.additionalProperty);
      const known = Object.keys(parent.properties ?? {});
      const guess = closest(key, known);
      const hint = guess ? `did you mean "${guess}"?` : `known keys: ${known.join(", ")}`;
      const locateAt: PathSegment[] = [...path, key];
      return { ...base, message: `unknown key "${key}" (${hint})`, locate: locateAt, at: "key" };
    }
    case "required":
      return { ...base, message: `missing required key "${String(params.missingProperty)}"` };
    case "enum":
      return { ...base, message: `must be one of ${(params.allowedValues as unknown[]).join(", ")}; got ${got}` };
    case "type":
      if (parent.format) return { ...base, message: formatMessage(parent.format, e.data) };
      return { ...base, message: `${path.length ? "must" : "the config must"} be ${typeNames(params.type)}, got ${got}` };
    case "format":
      return { ...base, message: formatMessage(String(params.format), e.data) };
    case "pattern":
      return { ...base, message: patternMessage(String(params.pattern), e.data) + or };
    case "minimum":
      return { ...base, message: `must be at least ${String(params.limit)}, got ${got}` };
    case "maximum":
      return { ...base, message: `must be at most ${String(params.limit)}, got ${got}` };
    case "minItems":
      return { ...base, message: params.limit === 1 ? "must not be empty" : `must have at least ${String(params.limit)} items` };
    case "minLength":
      return { ...base, message: params.limit === 1 ? "must not be empty" : `must be at least ${String(params.limit)} characters long` };
    case "maxLength":
      return { ...base, message: `must be at most ${String(params.limit)} characters long` };
    case "const":
      return { ...base, message: `must be ${JSON.stringify(params.allowedValue)}, got ${got}` };
    case "if":
      return null; // always comes with the then/else error that says what is wrong
    default:
      return { ...base, message: (e.message ?? "is not valid") + or };
  }
}

type SchemaNode = {
  $ref?: string;
  type?: string | string[];
  const?: unknown;
  properties?: Record<string, SchemaNode>;
  patternProperties?: Record<string, SchemaNode>;
  additionalProperties?: boolean | SchemaNode;
  items?: SchemaNode;
  anyOf?: SchemaNode[];
};

function expand(node: SchemaNode): SchemaNode[] {
  const definitions = schemaJson.definitions as Record<string, SchemaNode>;
  const target = node.$ref ? definitions[node.$ref.replace("#/definitions/", "")] : undefined;
  const self = target ? { ...target, ...node, $ref: undefined } : node;
  return [self, ...(self.anyOf ?? []).flatMap(expand)];
}

/** The JSON types the schema allows at a path (e.g. ["string"]); undefined when it does not say. */
export function schemaTypesAt(path: ConfigPath): string[] | undefined {
  let nodes = expand(schemaJson as SchemaNode);
  for (const seg of path) {
    const next: SchemaNode[] = [];
    for (const n of nodes) {
      if (typeof seg === "number") {
        if (n.items) next.push(n.items);
        continue;
      }
      const p = n.properties?.[seg] ?? Object.entries(n.patternProperties ?? {}).find(([re]) => new RegExp(re).test(seg))?.[1];
      if (p) next.push(p);
      else if (typeof n.additionalProperties === "object") next.push(n.additionalProperties);
    }
    nodes = next.flatMap(expand);
  }
  const types = nodes.flatMap((n) => (n.type ? ([] as string[]).concat(n.type) : n.const !== undefined ? [typeof n.const] : []));
  return types.length > 0 ? [...new Set(types)] : undefined;
}

// Values that must never be repeated in a message: an operator pastes validate's output
// into tickets and chats.
export function isSecretPath(path: ConfigPath): boolean {
  return (
    (path.length === 1 && path[0] === "admin_token") ||
    (path[0] === "backends" && (path[2] === "api_key" || path[2] === "headers"))
  );
}

const TYPE_NAMES: Record<string, string> = {
  string: "a string",
  integer: "an integer",
  number: "a number",
  boolean: "true or false",
  object: "a map (key: value)",
  array: "a list",
  null: "empty",
};

function typeNames(t: unknown): string {
  const list = Array.isArray(t) ? t : [t];
  return list.map((x) => TYPE_NAMES[String(x)] ?? String(x)).join(" or ");
}

/** What kind of value v is, for values that must not be shown. */
function kind(v: unknown): string {
  if (v === null || v === undefined) return "an empty value";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a map";
  return typeof v === "number" ? "a number" : typeof v === "boolean" ? "a boolean" : "a string";
}

/** A value as it appears in a message. */
export function show(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v.length > 80 ? v.slice(0, 77) + "..." : v);
  if (v === null || v === undefined) return "an empty value";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a map";
  return String(v);
}

export function formatMessage(format: string, v: unknown): string {
  switch (format) {
    case "duration":
      return `bad duration ${show(v)}: ${DURATION_HINT}`;
    case "size":
      return `bad size ${show(v)}: ${SIZE_HINT}`;
    case "listen":
      return `bad listen address ${show(v)}: ${typeof v === "string" ? (listenProblem(v) ?? LISTEN_HINT) : LISTEN_HINT}`;
    case "http-url":
      return `${typeof v === "string" ? (httpUrlProblem(v) ?? "must be an http(s) URL") : "must be an http(s) URL"}, got ${show(v)}`;
    default:
      return `must be a valid ${format}, got ${show(v)}`;
  }
}

const NAME_PATTERN = schemaJson.definitions.name.pattern;

function patternMessage(pattern: string, v: unknown): string {
  if (pattern === NAME_PATTERN) return `bad name ${show(v)}: use letters, digits and . _ : / @ + - (starting with a letter or digit)`;
  if (pattern === "^/") return `must start with "/", got ${show(v)}`;
  return `must match ${pattern}, got ${show(v)}`;
}

/** The known name closest to a mistyped one, when it is close enough to be the intent. */
export function closest(word: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  const lower = word.toLowerCase();
  for (const k of known) {
    const d = k.toLowerCase() === lower ? 0 : distance(lower, k.toLowerCase());
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  // one typo in a short word, two in a longer one; more is a different word
  const limit = word.length <= 4 ? 1 : 2;
  return bestDistance <= limit ? best : undefined;
}

/** Damerau-Levenshtein (optimal string alignment): a swap of two letters is one typo. */
function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i]);
  for (let j = 1; j <= b.length; j++) (d[0] as number[])[j] = j;
  for (let i = 1; i <= a.length; i++) {
    const row = d[i] as number[];
    const prev = d[i - 1] as number[];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min((prev[j] as number) + 1, (row[j - 1] as number) + 1, (prev[j - 1] as number) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, ((d[i - 2] as number[])[j - 2] as number) + 1);
      row[j] = v;
    }
  }
  return (d[a.length] as number[])[b.length] as number;
}
