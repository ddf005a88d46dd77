// The README's config reference, generated from schemas/config.schema.json: the schema
// is the one place a setting is documented (its description and default), so the
// README cannot drift from what the loader accepts.
//
//   bun scripts/gen-config-docs.ts          rewrite README.md between the markers
//   bun scripts/gen-config-docs.ts --check  exit 1 when README.md is out of date
//
// test/unit/readme.test.ts runs the check, so CI fails when the schema changed and the
// README was not regenerated.

import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const START_MARKER = "<!-- config-reference:start -->";
export const END_MARKER = "<!-- config-reference:end -->";

export const SCHEMA_PATH = fileURLToPath(new URL("../schemas/config.schema.json", import.meta.url));
export const README_PATH = fileURLToPath(new URL("../README.md", import.meta.url));

/** The parts of JSON Schema (draft 7) that schemas/config.schema.json uses. */
export interface SchemaNode {
  $ref?: string;
  description?: string;
  type?: string | string[];
  format?: string;
  enum?: unknown[];
  const?: unknown;
  default?: unknown;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  required?: string[];
  properties?: Record<string, SchemaNode>;
  patternProperties?: Record<string, SchemaNode>;
  additionalProperties?: boolean | SchemaNode;
  items?: SchemaNode;
  anyOf?: SchemaNode[];
  definitions?: Record<string, SchemaNode>;
}

export interface ReferenceRow {
  /** Where the key sits: `server.max_body`, `backends[].url`, `x-*`. */
  path: string;
  type: string;
  /** The default as YAML would spell it; "required" or "" when there is none. */
  default: string;
  description: string;
}

/** What the custom formats (src/config/schema.ts) accept, in words. */
const FORMAT_NAMES: Record<string, string> = {
  duration: "duration",
  size: "size",
  listen: "host:port",
  "http-url": "http(s) URL",
};

function refName(ref: string): string {
  const prefix = "#/definitions/";
  if (!ref.startsWith(prefix)) throw new Error(`unsupported $ref ${ref}`);
  return ref.slice(prefix.length);
}

/** A node with its $ref resolved; the node's own keywords win over the definition's. */
function deref(node: SchemaNode, defs: Record<string, SchemaNode>): SchemaNode {
  if (!node.$ref) return node;
  const target = defs[refName(node.$ref)];
  if (!target) throw new Error(`unknown $ref ${node.$ref}`);
  const { $ref: _ignored, ...own } = node;
  return deref({ ...target, ...own }, defs);
}

function code(s: string): string {
  return "`" + s + "`";
}

function yamlScalar(v: unknown): string {
  if (typeof v === "string") return v === "" ? '""' : v;
  return JSON.stringify(v);
}

function typeOf(node: SchemaNode, defs: Record<string, SchemaNode>): string {
  if (node.anyOf) {
    const parts = node.anyOf.map((alt) => (alt.const !== undefined ? code(JSON.stringify(alt.const)) : typeOf(deref(alt, defs), defs)));
    return [...new Set(parts)].join(" or ");
  }
  if (node.enum) return node.enum.map((v) => code(String(v))).join(", ");
  if (node.format && FORMAT_NAMES[node.format]) return FORMAT_NAMES[node.format]!;
  const types = node.type === undefined ? [] : ([] as string[]).concat(node.type);
  if (types.length === 0) return "any";
  if (types.length === 1 && types[0] === "array") {
    const items = node.items ? deref(node.items, defs) : undefined;
    if (!items) return "list";
    if (items.properties) return "list of maps";
    const of = typeOf(items, defs);
    return /^[a-z]+$/.test(of) ? `list of ${of}s` : `list of ${of}`;
  }
  if (types.length === 1 && types[0] === "object") {
    const values = node.additionalProperties;
    if (!node.properties && values && typeof values === "object") return `map of ${typeOf(deref(values, defs), defs)}`;
    return "map";
  }
  if (types.length === 1 && node.pattern && node.pattern === defs.name?.pattern) return "name";
  let out = types.join(" or ");
  if (node.minimum !== undefined && node.maximum !== undefined) out += ` (${node.minimum} to ${node.maximum})`;
  else if (node.minimum !== undefined) out += ` (≥ ${node.minimum})`;
  return out;
}

function defaultOf(node: SchemaNode, required: boolean): string {
  if (required) return "required";
  const d = node.default;
  if (d === undefined) return "";
  // A map's default ({}) says only that its keys have defaults of their own: shown there.
  if (d !== null && typeof d === "object" && !Array.isArray(d) && Object.keys(d).length === 0) return "";
  if (Array.isArray(d)) return code(JSON.stringify(d));
  return code(yamlScalar(d));
}

/** Every property of the schema, depth first in the schema's own order. */
export function referenceRows(schema: SchemaNode): ReferenceRow[] {
  const defs = schema.definitions ?? {};
  const rows: ReferenceRow[] = [];
  const walk = (node: SchemaNode, prefix: string, depth: number) => {
    if (depth > 8) throw new Error(`schema nested too deeply at ${prefix}`);
    const required = new Set(node.required ?? []);
    for (const [key, raw] of Object.entries(node.properties ?? {})) {
      const prop = deref(raw, defs);
      const path = prefix + key;
      if (!prop.description) throw new Error(`schema property ${path} has no description`);
      rows.push({ path, type: typeOf(prop, defs), default: defaultOf(prop, required.has(key)), description: prop.description });
      if (prop.properties) walk(prop, `${path}.`, depth + 1);
      const items = prop.items ? deref(prop.items, defs) : undefined;
      if (items?.properties) walk(items, `${path}[].`, depth + 1);
    }
    for (const [pattern, raw] of Object.entries(node.patternProperties ?? {})) {
      const prop = deref(raw, defs);
      const path = prefix + patternLabel(pattern);
      if (!prop.description) throw new Error(`schema property ${path} has no description`);
      rows.push({ path, type: typeOf(prop, defs), default: "", description: prop.description });
    }
  };
  walk(schema, "", 0);
  return rows;
}

/** "^x-" → "x-*": the key patterns the schema uses are prefixes. */
function patternLabel(pattern: string): string {
  const m = /^\^([A-Za-z0-9_-]+)$/.exec(pattern);
  if (!m) throw new Error(`cannot name the key pattern ${pattern} in the docs; extend patternLabel()`);
  return `${m[1]}*`;
}

/**
 * Text for a Markdown table cell: on one line, with the characters that would end the
 * cell (|), start emphasis (*) or an HTML tag (<) escaped. Code spans are left alone.
 */
function cell(s: string): string {
  return s
    .replace(/\r?\n/g, " ")
    .split(/(`[^`]*`)/)
    .map((part, i) => (i % 2 === 1 ? part : part.replace(/([|*<])/g, "\\$1")))
    .join("")
    .replace(/`([^`]*)`/g, (m) => m.replace(/\|/g, "\\|"));
}

/** The generated Markdown (without the markers). */
export function renderConfigReference(schema: SchemaNode): string {
  const defs = schema.definitions ?? {};
  const rows = referenceRows(schema);
  const out: string[] = [];
  out.push("<!-- Generated by scripts/gen-config-docs.ts from schemas/config.schema.json. Edit the schema, then run: npx bun scripts/gen-config-docs.ts -->");
  out.push("");
  if (schema.description) out.push(cell(schema.description), "");
  const name = defs.name;
  if (name?.pattern) {
    const max = name.maxLength !== undefined ? `, at most ${name.maxLength} characters` : "";
    out.push(`A *name* (backend names, route names, targets' \`backend\`, \`fallback\` entries) matches ${code(name.pattern)}${max}.`, "");
  }
  out.push("`[]` in a path stands for every item of a list. An empty default means the key has none: it is optional and its absence means what the description says.", "");
  out.push("| key | type | default | description |");
  out.push("|---|---|---|---|");
  for (const r of rows) out.push(`| ${code(r.path)} | ${cell(r.type)} | ${cell(r.default)} | ${cell(r.description)} |`);
  return out.join("\n");
}

/** The README with the part between the markers replaced by `reference`. */
export function spliceReadme(readme: string, reference: string): string {
  const start = readme.indexOf(START_MARKER);
  const end = readme.indexOf(END_MARKER);
  if (start < 0 || end < 0 || end < start) {
    throw new Error(`README.md must contain ${START_MARKER} and, after it, ${END_MARKER}`);
  }
  if (readme.indexOf(START_MARKER, start + 1) >= 0 || readme.indexOf(END_MARKER, end + 1) >= 0) {
    throw new Error("README.md must contain each config-reference marker once");
  }
  return readme.slice(0, start + START_MARKER.length) + "\n" + reference + "\n" + readme.slice(end);
}

export interface CheckResult {
  upToDate: boolean;
  /** README.md as it should be. */
  expected: string;
}

/** Whether README.md holds the reference generated from the schema as it is now. */
export function checkReadme(readmePath = README_PATH, schemaPath = SCHEMA_PATH): CheckResult {
  const schema = JSON.parse(readFileSync(schemaPath, "utf8")) as SchemaNode;
  const readme = readFileSync(readmePath, "utf8");
  const expected = spliceReadme(readme, renderConfigReference(schema));
  return { upToDate: expected === readme, expected };
}

function main(argv: string[]): number {
  const check = argv.includes("--check");
  const unknown = argv.filter((a) => a !== "--check");
  if (unknown.length > 0) {
    process.stderr.write(`gen-config-docs: unknown argument ${unknown[0]}\nusage: bun scripts/gen-config-docs.ts [--check]\n`);
    return 2;
  }
  const { upToDate, expected } = checkReadme();
  if (check) {
    if (upToDate) return 0;
    process.stderr.write("README.md's config reference is out of date with schemas/config.schema.json; run: npx bun scripts/gen-config-docs.ts\n");
    return 1;
  }
  if (upToDate) {
    process.stdout.write("README.md: config reference already up to date\n");
  } else {
    writeFileSync(README_PATH, expected);
    process.stdout.write("README.md: config reference regenerated\n");
  }
  return 0;
}

if (import.meta.main) process.exit(main(process.argv.slice(2)));
