// The public way in: a file, a text or an object becomes either a checked, normalized,
// frozen Config with its hash, or every issue found, each with its position in the file.
//
//   text ─► mask ${VARS} ─► YAML (positions) ─► substitute ─► schema + defaults ─►
//   semantic checks ─► normalize ─► freeze + hash

import { readFile } from "node:fs/promises";
import { sortIssues } from "./format.ts";
import { normalize, configHash } from "./normalize.ts";
import { formatPath, pathStartsWith } from "./paths.ts";
import type { ConfigPath, PendingIssue } from "./paths.ts";
import { schemaIssues, schemaTypesAt } from "./schema.ts";
import { semanticIssues } from "./semantic.ts";
import type { ConfigIssue, LoadedConfig, RawConfig } from "./types.ts";
import { readYamlSource } from "./yaml-source.ts";
import type { YamlSource } from "./yaml-source.ts";

export type LoadResult = { ok: true; loaded: LoadedConfig } | { ok: false; file: string | null; issues: ConfigIssue[] };

/** The file could not be read at all (missing, unreadable, a directory). */
export class ConfigReadError extends Error {
  readonly file: string;
  readonly code: string | undefined;
  constructor(file: string, cause: unknown) {
    const code = (cause as { code?: string } | null)?.code;
    super(`cannot read ${file}: ${readReason(code, cause)}`);
    this.name = "ConfigReadError";
    this.file = file;
    this.code = code;
  }
}

const REASONS: Record<string, string> = {
  ENOENT: "no such file",
  EACCES: "permission denied",
  EPERM: "permission denied",
  EISDIR: "is a directory",
  ENOTDIR: "a part of the path is not a directory",
  ELOOP: "too many symbolic links",
  ENAMETOOLONG: "the name is too long",
};

function readReason(code: string | undefined, cause: unknown): string {
  if (code && REASONS[code]) return REASONS[code];
  return cause instanceof Error ? cause.message : String(cause);
}

/** Read and check a config file. Throws ConfigReadError only when the file cannot be read. */
export async function loadConfigFile(path: string, env: Record<string, string | undefined> = process.env): Promise<LoadResult> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new ConfigReadError(path, err);
  }
  return loadConfigText(text, path, env);
}

/** Check a config given as YAML text; file only names it in issues. */
export function loadConfigText(text: string, file: string | null, env: Record<string, string | undefined> = process.env): LoadResult {
  // An editor's byte-order mark is not part of the config; columns count without it.
  const source = readYamlSource(text.startsWith("\uFEFF") ? text.slice(1) : text, { env, typesAt: schemaTypesAt });
  if (source.fatal) return failed(file, source.issues, source);
  return check(source.data, file, source.issues, source);
}

/** Check a config given as data (the built-in demo config); issues carry no position. */
export function loadConfigObject(raw: unknown, file: string | null = null): LoadResult {
  // the schema fills in defaults in place: work on a copy, the caller's object stays as it is
  return check(structuredClone(raw), file, [], undefined);
}

function check(data: unknown, file: string | null, earlier: PendingIssue[], source: YamlSource | undefined): LoadResult {
  const issues = [...earlier, ...schemaIssues(data), ...semanticIssues(data)];
  // a missing variable leaves its value empty; what the checks then say about it is noise
  const tainted: ConfigPath[] = source?.tainted ?? [];
  const kept = issues.filter((i) => earlier.includes(i) || !tainted.some((t) => pathStartsWith(i.path, t)));
  if (kept.length > 0) return failed(file, kept, source);
  const config = normalize(data as RawConfig, file);
  return { ok: true, loaded: { config, hash: configHash(config), file } };
}

function failed(file: string | null, pending: PendingIssue[], source: YamlSource | undefined): LoadResult {
  const seen = new Set<string>();
  const issues: ConfigIssue[] = [];
  for (const p of pending) {
    const issue: ConfigIssue = { path: formatPath(p.path), message: p.message };
    const offset = p.offset ?? source?.locate(p.locate ?? p.path, p.at);
    if (source && offset !== undefined) Object.assign(issue, source.position(offset));
    const key = `${issue.line}:${issue.col}:${issue.path}:${issue.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    issues.push(issue);
  }
  return { ok: false, file, issues: sortIssues(issues) };
}
