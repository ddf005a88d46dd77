// The config file as YAML: parsed with positions, variables interpolated (see
// interpolate.ts), and a locator that turns a config path into an offset in the file.

import { isAlias, isMap, isNode, isScalar, isSeq, LineCounter, parseDocument } from "yaml";
import type { Document, Pair, Scalar, YAMLMap } from "yaml";
import {
  hasPlaceholder,
  MALFORMED_MESSAGE,
  maskVariables,
  missingVariableMessage,
  resolvePlainScalar,
  substitute,
} from "./interpolate.ts";
import type { VarRef } from "./interpolate.ts";
import type { ConfigPath, PathSegment, PendingIssue } from "./paths.ts";

export interface YamlSource {
  /** The config as plain data; undefined when the YAML could not be read. */
  data: unknown;
  /** Syntax errors, duplicate keys, unknown aliases, variable problems. */
  issues: PendingIssue[];
  /** The YAML itself is broken: its data must not be checked further. */
  fatal: boolean;
  /** Paths whose value is unknown (a variable is missing): other issues there are noise. */
  tainted: ConfigPath[];
  /** Offset in the text of the value (or key) at path, or of its nearest ancestor present. */
  locate(path: ConfigPath, at?: "key" | "value"): number | undefined;
  /** 1-based line and column of an offset. */
  position(offset: number): { line: number; col: number };
}

// One issue per line: after a syntax error the parser reports every following token of
// the line as unexpected, which says nothing more.
function syntaxIssues(doc: Document.Parsed, issues: PendingIssue[], lc: LineCounter): void {
  const lines = new Set<number>();
  for (const err of doc.errors) {
    if (err.code === "DUPLICATE_KEY") continue; // reported with the first key's line by the walk
    const line = lc.linePos(err.pos[0]).line;
    if (lines.has(line)) continue;
    lines.add(line);
    issues.push({ path: [], message: syntaxMessage(err.code, err.message), offset: err.pos[0] });
  }
}

function syntaxMessage(code: string, message: string): string {
  if (code === "MULTIPLE_DOCS") return "YAML syntax error: the file holds more than one YAML document (remove the second ---)";
  const text = message.replace(/; please use .*$/, "").replace(/\s+at line \d+, column \d+.*$/s, "");
  return `YAML syntax error: ${text.charAt(0).toLowerCase()}${text.slice(1)}`;
}

function keyString(key: unknown): string {
  if (isScalar(key)) return String(key.value);
  return String(key);
}

function isMergeKey(key: unknown): boolean {
  return isScalar(key) && typeof key.value === "symbol";
}

function isEmptyScalar(node: unknown): boolean {
  return isScalar(node) && node.value === null && node.source === "";
}

function start(node: unknown): number | undefined {
  return isNode(node) && node.range ? node.range[0] : undefined;
}

export interface YamlSourceOptions {
  env: Record<string, string | undefined>;
  /**
   * The types the schema allows at a path. A plain value that came from a variable and
   * reads as a number or boolean stays a string where only a string is allowed: an
   * api_key of 12345 must not become the number 12345.
   */
  typesAt?: (path: ConfigPath) => readonly string[] | undefined;
}

const jsonType = (v: unknown): string => (v === null ? "null" : typeof v === "number" ? (Number.isInteger(v) ? "integer" : "number") : typeof v);

export function readYamlSource(text: string, options: YamlSourceOptions): YamlSource {
  const { env, typesAt } = options;
  const masked = maskVariables(text);
  const lc = new LineCounter();
  const doc = parseDocument(masked.text, { lineCounter: lc, prettyErrors: false, merge: true, uniqueKeys: true });
  const issues: PendingIssue[] = [];
  const tainted: ConfigPath[] = [];
  syntaxIssues(doc, issues, lc);
  let fatal = issues.length > 0;

  const interpolate = (node: Scalar, path: ConfigPath, isKey = false): void => {
    if (typeof node.value !== "string") return;
    const value = node.value;
    if (!hasPlaceholder(value) && !value.includes("${")) return;
    const r = substitute(value, masked.refs, env);
    if (r.malformed) {
      const [from, to] = node.range ?? [0, 0];
      const at = masked.text.indexOf("${", from);
      issues.push({ path, message: MALFORMED_MESSAGE, offset: at >= 0 && at < to ? at : from });
      tainted.push(path);
    }
    for (const ref of r.missing) reportMissing(ref, path);
    if (!r.changed) return;
    // An explicit tag (!!str ...) keeps the value a string; see interpolate.ts.
    let resolved: unknown = node.type === "PLAIN" && !node.tag && !isKey ? resolvePlainScalar(r.value) : r.value;
    if (typeof resolved !== "string") {
      const types = typesAt?.(path);
      const t = jsonType(resolved);
      if (types?.includes("string") && !types.includes(t) && !(t === "integer" && types.includes("number"))) resolved = r.value;
    }
    node.value = resolved;
  };
  const reportMissing = (ref: VarRef, path: ConfigPath): void => {
    issues.push({ path, message: missingVariableMessage(ref), offset: ref.offset });
    tainted.push(path);
  };

  const walk = (node: unknown, path: PathSegment[]): void => {
    if (isAlias(node)) {
      if (!node.resolve(doc)) {
        issues.push({ path, message: `unknown alias *${node.source} (define &${node.source} before using it)`, offset: start(node) ?? 0 });
        fatal = true;
      }
    } else if (isScalar(node)) {
      interpolate(node, path);
    } else if (isMap(node)) {
      const seen = new Map<string, Pair>();
      for (const pair of node.items) {
        if (isMergeKey(pair.key)) {
          walk(pair.value, path);
          continue;
        }
        if (isScalar(pair.key)) interpolate(pair.key, path, true);
        const key = keyString(pair.key);
        const first = seen.get(key);
        if (first) {
          const line = lc.linePos(start(first.key) ?? 0).line;
          issues.push({ path: [...path, key], message: `duplicate key "${key}" (first set on line ${line})`, offset: start(pair.key) ?? 0 });
          fatal = true;
        } else {
          seen.set(key, pair);
        }
        walk(pair.value, [...path, key]);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => walk(item, [...path, i]));
    }
  };
  walk(doc.contents, []);

  let data: unknown;
  if (!fatal) {
    try {
      data = doc.toJS({ maxAliasCount: 100 });
    } catch (err) {
      // e.g. too many aliases (a "billion laughs" file)
      issues.push({ path: [], message: `YAML error: ${err instanceof Error ? err.message : String(err)}` });
      fatal = true;
    }
  }
  if (!fatal && (data === null || data === undefined)) {
    issues.push({ path: [], message: "config is empty" });
    fatal = true;
  }

  const deref = (node: unknown): unknown => (isAlias(node) ? node.resolve(doc) : node);
  const findPair = (map: YAMLMap, key: string): Pair | undefined => {
    for (const pair of map.items) if (!isMergeKey(pair.key) && keyString(pair.key) === key) return pair;
    // a key that came from a merge (<<: *defaults): point into the merged map
    for (const pair of map.items) {
      if (!isMergeKey(pair.key)) continue;
      const sources = deref(pair.value);
      for (const src of isSeq(sources) ? sources.items.map(deref) : [sources]) {
        if (isMap(src)) {
          const found = findPair(src, key);
          if (found) return found;
        }
      }
    }
    return undefined;
  };

  const locate = (path: ConfigPath, at: "key" | "value" = "value"): number | undefined => {
    let node: unknown = doc.contents;
    let offset = start(node);
    let keyOffset: number | undefined;
    for (const seg of path) {
      node = deref(node);
      let next: unknown;
      keyOffset = undefined;
      if (isMap(node)) {
        const pair = findPair(node, String(seg));
        if (!pair) return offset;
        keyOffset = start(pair.key);
        next = pair.value;
      } else if (isSeq(node) && typeof seg === "number" && seg < node.items.length) {
        next = node.items[seg];
      } else {
        return offset;
      }
      // `key:` with nothing after it: point at the key, not at the end of the line
      offset = (isEmptyScalar(next) ? keyOffset : start(next)) ?? keyOffset ?? offset;
      node = next;
    }
    return at === "key" && keyOffset !== undefined ? keyOffset : offset;
  };

  return { data, issues, fatal, tainted, locate, position: (offset) => lc.linePos(offset) };
}
