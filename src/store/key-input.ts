// The rules a key's settings follow, in one place: the store enforces them on every
// create and update, and the CLI and the admin API use the same functions to name the
// exact flag or field that is wrong before anything is written.

import { cidrProblem } from "../auth/cidr.ts";
import { globProblem } from "../auth/globs.ts";
import { parseAbsoluteTime, parseDuration } from "../config/units.ts";
import type { KeyPatch, NewKey } from "./types.ts";

export const NAME_MAX = 200;
export const METADATA_KEY_MAX = 64;
export const METADATA_VALUE_MAX = 1024;

export function nameProblem(name: unknown): string | null {
  if (typeof name !== "string" || name.trim() === "") return "a key needs a name (what it is for, who holds it)";
  if (name.length > NAME_MAX) return `a name is at most ${NAME_MAX} characters, got ${name.length}`;
  if (/[\u0000-\u001f\u007f]/.test(name)) return "a name cannot contain control characters";
  return null;
}

/**
 * rpm, tpm, concurrency and quotas: a whole number >= 1, or null (no value of its own).
 * 0 is refused: in the config 0 means "no limit", and on a key it would read as "nothing
 * allowed"; an ambiguous value is worse than none (to block a key, revoke it).
 */
export function countProblem(n: unknown): string | null {
  if (n === null) return null;
  if (typeof n !== "number" || !Number.isSafeInteger(n) || n < 1) return `must be a whole number >= 1, got ${JSON.stringify(n)}`;
  return null;
}

export function metadataProblem(key: string, value: unknown): string | null {
  if (key === "" || key.length > METADATA_KEY_MAX) return `a metadata name has 1 to ${METADATA_KEY_MAX} characters, got ${JSON.stringify(key)}`;
  if (!/^[A-Za-z0-9_.:-]+$/.test(key)) return `metadata name ${JSON.stringify(key)} may only use letters, digits and _ . : -`;
  if (typeof value !== "string") return `metadata ${key} must be a string`;
  if (value.length > METADATA_VALUE_MAX) return `metadata ${key} is longer than ${METADATA_VALUE_MAX} characters`;
  return null;
}

function listProblems(field: string, list: unknown, problem: (s: string) => string | null): string[] {
  if (!Array.isArray(list)) return [`${field}: must be a list`];
  return list.flatMap((v: unknown, i) => {
    const p = typeof v === "string" ? problem(v) : "must be a string";
    return p === null ? [] : [`${field}[${i}]: ${p}`];
  });
}

const LIMIT_FIELDS: readonly string[] = ["rpm", "tpm", "concurrency"];
const QUOTA_FIELDS: readonly string[] = ["total", "daily", "monthly"];

/** Everything wrong with a new key (create) or a change (update); [] when it is fine. */
export function keyInputProblems(input: NewKey | KeyPatch, mode: "create" | "update"): string[] {
  const problems: string[] = [];
  const add = (field: string, p: string | null): void => {
    if (p !== null) problems.push(`${field}: ${p}`);
  };
  if (mode === "create" || input.name !== undefined) add("name", nameProblem(input.name));
  if (input.expiresAt !== undefined && input.expiresAt !== null && !Number.isSafeInteger(input.expiresAt)) add("expiresAt", "must be a Unix time in ms or null");
  if (input.models !== undefined) problems.push(...listProblems("models", input.models, globProblem));
  if (input.ips !== undefined) problems.push(...listProblems("ips", input.ips, cidrProblem));
  for (const [k, v] of Object.entries(input.limits ?? {})) add(`limits.${k}`, LIMIT_FIELDS.includes(k) ? countProblem(v) : "unknown limit (rpm, tpm, concurrency)");
  for (const [k, v] of Object.entries(input.quota ?? {})) add(`quota.${k}`, QUOTA_FIELDS.includes(k) ? countProblem(v) : "unknown quota (total, daily, monthly)");
  if (input.metadata !== undefined) {
    if (typeof input.metadata !== "object" || input.metadata === null) add("metadata", "must be an object of strings");
    else for (const [k, v] of Object.entries(input.metadata)) add("metadata", metadataProblem(k, v));
  }
  return problems;
}

export const EXPIRY_HINT = 'use a duration from now (30d, 12h), a UTC date (2027-01-31), a date and time with a zone (2027-01-31T12:00:00Z), or "never"';

/**
 * An expiry as operators write it: "30d" (from now), "2027-01-31" (00:00 UTC that day),
 * "2027-01-31T12:00:00Z" (a zone is required: a time without one means different
 * instants on different machines), or "never" (null). It must lie in the future.
 */
export function parseExpiry(s: string, now: number): { ok: true; value: number | null } | { ok: false; problem: string } {
  if (s === "never") return { ok: true, value: null };
  const duration = parseDuration(s);
  if (duration !== null) {
    if (duration <= 0) return { ok: false, problem: `"${s}" is no time at all; ${EXPIRY_HINT}` };
    return { ok: true, value: now + duration };
  }
  const at = parseAbsoluteTime(s);
  if (at === null) {
    const noZone = /^\d{4}-\d{2}-\d{2}T[\d:.]+$/.test(s);
    return { ok: false, problem: noZone ? `"${s}" has no time zone: add Z (UTC) or an offset like +02:00` : `"${s}" is not a duration or a date; ${EXPIRY_HINT}` };
  }
  if (at <= now) return { ok: false, problem: `"${s}" is in the past (now is ${new Date(now).toISOString()})` };
  return { ok: true, value: at };
}
