// JSON Schema (what OpenAI clients send as tool parameters and json_schema response
// formats) to Gemini's Schema object, "a select subset of an OpenAPI 3.0 schema object"
// (Gemini API reference, Schema). The API parses it as a protobuf message, so any key it
// does not know is a 400 ("Invalid JSON payload received. Unknown name
// \"additionalProperties\" ... Cannot find field"), and clients routinely send such keys:
// Pydantic and zod emit additionalProperties, $schema, $defs/$ref, exclusiveMinimum,
// MCP servers add the rest. Hence an allow-list, not a block-list.
//
// Conversions, each one a known cause of a 400:
// - `type` becomes the enum name (STRING, OBJECT, ...); a type list ["string","null"]
//   becomes the type plus nullable: true, a list of several types an anyOf.
// - A {"type":"null"} member of anyOf/oneOf becomes nullable; oneOf is read as anyOf
//   (Gemini has no oneOf); allOf members are merged into one schema.
// - Local $ref (#/$defs/X, #/definitions/X) are inlined; a recursive one is cut at its
//   second visit (Gemini schemas cannot refer to themselves).
// - `const` becomes a one-value enum; enums that are not all strings are dropped (Gemini
//   enums are strings of a STRING schema).
// - `format` is kept only where Gemini accepts it: date-time and enum for strings,
//   float/double for numbers, int32/int64 for integers.
// - `required` names that are not in `properties` are dropped (refused as "property is
//   not defined").
// - `title` and `default` are dropped: older API versions refused them and a model gains
//   nothing from them that `description` does not give.
// An object schema without properties (a free-form map) stays an OBJECT without them;
// Gemini refuses that as a function's whole parameters, so the encoder leaves such
// parameters out (gemini-request.ts). Where the subset cannot say something (a map of
// typed values, tuples), the schema gets looser, never refused: the model still sees the
// description.

type Json = Record<string, unknown>;

const TYPES: Readonly<Record<string, string>> = {
  string: "STRING",
  number: "NUMBER",
  integer: "INTEGER",
  boolean: "BOOLEAN",
  array: "ARRAY",
  object: "OBJECT",
  null: "NULL",
};

const FORMATS: Readonly<Record<string, readonly string[]>> = {
  STRING: ["date-time", "enum"],
  NUMBER: ["float", "double"],
  INTEGER: ["int32", "int64"],
};

/** Keys copied as they are (their values are plain numbers, strings or string lists). */
const PLAIN_KEYS = ["description", "minItems", "maxItems", "minProperties", "maxProperties", "minLength", "maxLength", "pattern", "minimum", "maximum", "example", "propertyOrdering"] as const;

/** Deepest nesting followed; deeper schemas are cut (a guard against pathological input). */
const MAX_DEPTH = 64;

function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

interface Walk {
  root: Json;
  /** $ref targets being inlined, to cut a recursion. */
  inlining: Set<string>;
}

/** The Gemini Schema for a JSON Schema; anything not understood is left out, never refused. */
export function geminiSchema(schema: unknown): Json {
  if (!isObject(schema)) return {};
  return convert(schema, { root: schema, inlining: new Set() }, 0);
}

/** True when a converted schema is an OBJECT without properties (Gemini refuses those as function parameters). */
export function isEmptyObjectSchema(s: Json): boolean {
  return s.type === "OBJECT" && (!isObject(s.properties) || Object.keys(s.properties).length === 0);
}

function resolveRef(ref: string, root: Json): Json | null {
  const m = /^#\/(\$defs|definitions)\/(.+)$/.exec(ref);
  if (m === null) return null;
  const defs = root[m[1]!];
  const name = m[2]!.replace(/~1/g, "/").replace(/~0/g, "~");
  if (!isObject(defs)) return null;
  const target = defs[name];
  return isObject(target) ? target : null;
}

function convert(s: Json, w: Walk, depth: number): Json {
  if (depth > MAX_DEPTH) return {};
  if (typeof s.$ref === "string") {
    const ref = s.$ref;
    const target = resolveRef(ref, w.root);
    if (target === null || w.inlining.has(ref)) return typeof s.description === "string" ? { description: s.description } : {};
    w.inlining.add(ref);
    // Siblings of $ref (a description, say) apply on top of the target.
    const { $ref: _ref, ...rest } = s;
    const out = convert({ ...target, ...rest }, w, depth + 1);
    w.inlining.delete(ref);
    return out;
  }
  if (Array.isArray(s.allOf) && s.allOf.length > 0) {
    const { allOf, ...rest } = s;
    let merged: Json = rest;
    for (const part of allOf) if (isObject(part)) merged = mergeSchemas(merged, part);
    return convert(merged, w, depth + 1);
  }

  const out: Json = {};
  let nullable = s.nullable === true;
  const t = s.type;
  if (typeof t === "string") {
    if (TYPES[t] !== undefined) out.type = TYPES[t];
  } else if (Array.isArray(t)) {
    const types = t.filter((x): x is string => typeof x === "string" && TYPES[x] !== undefined);
    if (types.includes("null") && types.length > 1) nullable = true;
    const rest = types.filter((x) => x !== "null" || types.length === 1);
    if (rest.length === 1) out.type = TYPES[rest[0]!];
    else if (rest.length > 1) {
      // ["string","number"]: one alternative per type, the other keywords apply to each.
      const { type: _type, ...others } = s;
      out.anyOf = rest.map((x) => convert({ ...others, type: x }, w, depth + 1));
      if (nullable) out.nullable = true;
      copyPlain(s, out);
      return out;
    }
  }

  const alternatives = Array.isArray(s.anyOf) ? s.anyOf : Array.isArray(s.oneOf) ? s.oneOf : null;
  if (alternatives !== null) {
    const kept: Json[] = [];
    for (const alt of alternatives) {
      if (!isObject(alt)) continue;
      if (alt.type === "null") {
        nullable = true;
        continue;
      }
      kept.push(convert(alt, w, depth + 1));
    }
    if (kept.length === 1 && out.type === undefined) Object.assign(out, kept[0]);
    else if (kept.length > 0) out.anyOf = kept;
  }

  copyPlain(s, out);
  const type = out.type;
  if (typeof s.format === "string" && typeof type === "string" && FORMATS[type]?.includes(s.format)) out.format = s.format;

  if (Array.isArray(s.enum) && s.enum.length > 0 && s.enum.every((v) => typeof v === "string")) {
    out.enum = s.enum;
    if (out.type === undefined) out.type = "STRING";
  } else if (typeof s.const === "string") {
    out.enum = [s.const];
    if (out.type === undefined) out.type = "STRING";
  }

  if (isObject(s.properties)) {
    const props: Json = {};
    for (const key of Object.keys(s.properties)) {
      const p = s.properties[key];
      props[key] = isObject(p) ? convert(p, w, depth + 1) : {};
    }
    out.properties = props;
    if (out.type === undefined) out.type = "OBJECT";
    if (Array.isArray(s.required)) {
      const required = s.required.filter((k): k is string => typeof k === "string" && k in props);
      if (required.length > 0) out.required = required;
    }
  }
  if (isObject(s.items)) {
    out.items = convert(s.items, w, depth + 1);
    if (out.type === undefined) out.type = "ARRAY";
  }
  if (nullable) out.nullable = true;
  return out;
}

function copyPlain(from: Json, to: Json): void {
  for (const key of PLAIN_KEYS) {
    const v = from[key];
    if (v === undefined) continue;
    if (key === "propertyOrdering" && !(Array.isArray(v) && v.every((x) => typeof x === "string"))) continue;
    if (key === "description" || key === "pattern") {
      if (typeof v === "string") to[key] = v;
    } else if (key === "example" || key === "propertyOrdering") to[key] = v;
    else if (typeof v === "number" && Number.isFinite(v)) to[key] = v;
  }
}

/** allOf: the members' keywords together; properties and required lists are united. */
function mergeSchemas(a: Json, b: Json): Json {
  const out: Json = { ...a, ...b };
  if (isObject(a.properties) && isObject(b.properties)) out.properties = { ...a.properties, ...b.properties };
  if (Array.isArray(a.required) && Array.isArray(b.required)) out.required = [...a.required, ...b.required];
  return out;
}
