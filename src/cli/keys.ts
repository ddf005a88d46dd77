// `llmproxy keys create|list|show|update|revoke|rotate`: virtual keys in the database
// named by the config (-c) or by --db. Every flag is checked before the database is
// opened, so a bad command line changes nothing (and creates no file). A secret is
// printed only by create and rotate, once; list and show never have it (it is not stored).
// The daemon may run meanwhile: SQLite WAL + busy_timeout, and it sees changes within
// a second (PRAGMA data_version).

import type { Command } from "commander";
import { cidrProblem } from "../auth/cidr.ts";
import { globProblem } from "../auth/globs.ts";
import { KeyNotFoundError, StoreError } from "../store/errors.ts";
import { countProblem, metadataProblem, nameProblem, parseExpiry } from "../store/key-input.ts";
import { keyView } from "../store/key-view.ts";
import type { KeyView } from "../store/key-view.ts";
import type { Store } from "../store/store.ts";
import type { KeyPatch } from "../store/types.ts";
import { type DbOptions, type MemoryRefusal, withDbFlags, withStore } from "./database.ts";
import { CliError } from "./exit.ts";
import { durationFlag } from "./flags.ts";

interface KeyDbFlags extends DbOptions {
  json?: boolean;
}

interface KeyFlags extends KeyDbFlags {
  name?: string;
  models?: string;
  ip?: string;
  rpm?: string;
  tpm?: string;
  concurrency?: string;
  quotaTokens?: string;
  quotaDaily?: string;
  quotaMonthly?: string;
  expires?: string;
  metadata?: string[];
}

const HELP = `
Examples:
  llmproxy keys create --name team-a --models 'gpt-4o*,llama-*' --rpm 60 --quota-monthly 5000000 --expires 90d
  llmproxy keys list
  llmproxy keys update key_abcdefghijklmnop --rpm none --ip 10.0.0.0/8
  llmproxy keys rotate key_abcdefghijklmnop --grace 1h
  llmproxy keys revoke key_abcdefghijklmnop

The database is the config's "database:" (-c FILE, default $LLMPROXY_CONFIG or
./llmproxy.yaml) or --db PATH. A running daemon sees every change within a second.
`;

// ---- flag values ----------------------------------------------------------------------

/** "a,b" → ["a","b"]; "" → [] (an empty list: every model / any address). */
function listFlag(flag: string, value: string, problem: (s: string) => string | null): string[] {
  if (value.trim() === "") return [];
  const items = value.split(",").map((s) => s.trim());
  for (const item of items) {
    const p = item === "" ? `an empty entry in "${value}"` : problem(item);
    if (p !== null) throw new CliError(`${flag}: ${p}`);
  }
  return items;
}

/** A whole number >= 1, or "none": no value of the key's own (the config's per_key default, no quota). */
function countFlag(flag: string, value: string): number | null {
  if (value === "none") return null;
  const n = /^\d{1,16}$/.test(value) ? Number(value) : NaN;
  if (countProblem(n) !== null) throw new CliError(`${flag} must be a whole number >= 1, or "none", got "${value}"`);
  return n;
}

/** NAME=VALUE pairs; an empty VALUE means "no such entry" (update removes it). */
function metadataFlag(pairs: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const pair of pairs) {
    const eq = pair.indexOf("=");
    if (eq < 0) throw new CliError(`--metadata must be NAME=VALUE, got "${pair}"`);
    const [k, v] = [pair.slice(0, eq), pair.slice(eq + 1)];
    const p = metadataProblem(k, v);
    if (p !== null) throw new CliError(`--metadata: ${p}`);
    out.set(k, v);
  }
  return out;
}

/** The flags as a change to a key; metadata comes back apart (update merges it). */
function keyChanges(f: KeyFlags, now: number): { patch: KeyPatch; metadata: Map<string, string> | null } {
  const patch: KeyPatch = {};
  if (f.name !== undefined) {
    const p = nameProblem(f.name);
    if (p !== null) throw new CliError(`--name: ${p}`);
    patch.name = f.name;
  }
  if (f.models !== undefined) patch.models = listFlag("--models", f.models, globProblem);
  if (f.ip !== undefined) patch.ips = listFlag("--ip", f.ip, cidrProblem);
  const limits: KeyPatch["limits"] = {};
  if (f.rpm !== undefined) limits.rpm = countFlag("--rpm", f.rpm);
  if (f.tpm !== undefined) limits.tpm = countFlag("--tpm", f.tpm);
  if (f.concurrency !== undefined) limits.concurrency = countFlag("--concurrency", f.concurrency);
  if (Object.keys(limits).length > 0) patch.limits = limits;
  const quota: KeyPatch["quota"] = {};
  if (f.quotaTokens !== undefined) quota.total = countFlag("--quota-tokens", f.quotaTokens);
  if (f.quotaDaily !== undefined) quota.daily = countFlag("--quota-daily", f.quotaDaily);
  if (f.quotaMonthly !== undefined) quota.monthly = countFlag("--quota-monthly", f.quotaMonthly);
  if (Object.keys(quota).length > 0) patch.quota = quota;
  if (f.expires !== undefined) {
    const e = parseExpiry(f.expires, now);
    if (!e.ok) throw new CliError(`--expires: ${e.problem}`);
    patch.expiresAt = e.value;
  }
  return { patch, metadata: f.metadata && f.metadata.length > 0 ? metadataFlag(f.metadata) : null };
}

// ---- the database ---------------------------------------------------------------------

const MEMORY: MemoryRefusal = { flag: "holds nothing once this command ends", config: "holds nothing once this command ends; keys need a file" };

/** Opens the key store, runs fn, closes; store errors become one-line operator messages. */
function withKeyStore<R>(opts: DbOptions, fn: (store: Store) => R): Promise<R> {
  return withStore(opts, MEMORY, fn, (err, path) => {
    // the path helps when the id is right but the database is not the daemon's
    if (err instanceof KeyNotFoundError) return new CliError(`${err.message} (database: ${path})`);
    if (err instanceof StoreError) return new CliError(err.message);
    return null;
  });
}

// ---- output ---------------------------------------------------------------------------

const out = (text: string): void => void process.stdout.write(text.endsWith("\n") ? text : text + "\n");
const json = (value: unknown): void => out(JSON.stringify(value));
const time = (iso: string | null, none: string): string => (iso === null ? none : iso.replace(/\.\d{3}Z$/, "Z"));
const num = (n: number | null): string => (n === null ? "-" : String(n));

function quotaText(v: KeyView, withLimits: boolean): string {
  const parts: string[] = [];
  const add = (limit: number | null, used: number, what: string): void => {
    if (limit !== null) parts.push(withLimits ? `${used}/${limit} ${what}` : `${limit} ${what}`);
  };
  add(v.quota.total, v.usage.total, "total");
  add(v.quota.daily, v.usage.today, "daily");
  add(v.quota.monthly, v.usage.thisMonth, "monthly");
  return parts.length > 0 ? parts.join(", ") : "none";
}

function details(v: KeyView): string {
  const rows: [string, string][] = [
    ["id", v.id],
    ["name", v.name],
    ["prefix", v.prefix],
    ["status", v.status],
    ["created", time(v.createdAt, "")],
    ["expires", time(v.expiresAt, "never")],
    ...(v.revokedAt !== null ? ([["revoked", time(v.revokedAt, "")]] as [string, string][]) : []),
    ["models", v.models.length > 0 ? v.models.join(", ") : "any"],
    ["ips", v.ips.length > 0 ? v.ips.join(", ") : "any"],
    ["rpm", v.limits.rpm === null ? "default" : String(v.limits.rpm)],
    ["tpm", v.limits.tpm === null ? "default" : String(v.limits.tpm)],
    ["concurrency", v.limits.concurrency === null ? "default" : String(v.limits.concurrency)],
    ["quota", quotaText(v, false)],
    ["used", `${v.usage.total} total, ${v.usage.today} today (${v.usage.day}), ${v.usage.thisMonth} this month (${v.usage.month})`],
    ["metadata", Object.keys(v.metadata).length > 0 ? Object.entries(v.metadata).map(([k, x]) => `${k}=${x}`).join(", ") : "none"],
    ...(v.previousSecretValidUntil !== null ? ([["old secret", `still accepted until ${time(v.previousSecretValidUntil, "")}`]] as [string, string][]) : []),
  ];
  return rows.map(([k, x]) => `${k.padEnd(12)}${x}`).join("\n");
}

function table(views: KeyView[]): string {
  const clip = (s: string): string => (s.length > 32 ? s.slice(0, 29) + "..." : s);
  const rows = [
    ["ID", "NAME", "PREFIX", "STATUS", "MODELS", "RPM/TPM/CONC", "QUOTA (USED/LIMIT)", "USED", "EXPIRES"],
    ...views.map((v) => [
      v.id,
      clip(v.name),
      v.prefix,
      v.status,
      clip(v.models.length > 0 ? v.models.join(",") : "any"),
      `${num(v.limits.rpm)}/${num(v.limits.tpm)}/${num(v.limits.concurrency)}`,
      quotaText(v, true),
      String(v.usage.total),
      time(v.expiresAt, "never"),
    ]),
  ];
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length))) ?? [];
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join("  ")).join("\n");
}

/** The view with the secret right after the names that identify it, as scripts read it. */
function withSecret(v: KeyView, secret: string): Record<string, unknown> {
  const { id, name, prefix, ...rest } = v;
  return { id, name, prefix, secret, ...rest };
}

function secretBlock(what: string, v: KeyView, secret: string): string {
  return [
    `${what} ${v.id} (${v.name}). Its secret:`,
    "",
    `    ${secret}`,
    "",
    "Copy it now: it is shown only this once and cannot be recovered (the database keeps",
    "only its hash). If it is lost, run `llmproxy keys rotate " + v.id + "`.",
    "",
    details(v),
  ].join("\n");
}

// ---- commands -------------------------------------------------------------------------

function withKeyDbFlags(cmd: Command): Command {
  return withDbFlags(cmd).option("--json", "print JSON on stdout");
}

function withKeyFlags(cmd: Command, nameHelp: string): Command {
  const collect = (v: string, prev: string[] = []): string[] => [...prev, v];
  return cmd
    .option("--name <name>", nameHelp)
    .option("--models <globs>", 'model names it may use, comma-separated; * and ? are wildcards ("" = any model)')
    .option("--ip <cidrs>", 'client addresses it may come from, comma-separated CIDRs or addresses ("" = any)')
    .option("--rpm <n>", 'requests per minute ("none" = the config\'s limits.per_key)')
    .option("--tpm <n>", 'tokens per minute ("none" = the config\'s default)')
    .option("--concurrency <n>", 'requests in flight at once ("none" = the config\'s default)')
    .option("--quota-tokens <n>", 'tokens over the key\'s whole life ("none" = no quota)')
    .option("--quota-daily <n>", 'tokens per UTC day ("none" = no quota)')
    .option("--quota-monthly <n>", 'tokens per UTC month ("none" = no quota)')
    .option("--expires <when>", 'a duration from now (30d), a UTC date (2027-01-31 = its 00:00), a time with a zone (2027-01-31T12:00:00Z), or "never"')
    .option("--metadata <name=value>", "a label kept with the key (repeatable; NAME= removes one on update)", collect);
}

export function registerKeys(program: Command): void {
  const keys = program.command("keys").description("manage virtual keys: create, list, show, update, revoke, rotate").addHelpText("after", HELP);

  withKeyFlags(withKeyDbFlags(keys.command("create").description("create a key and print its secret (once)")), "what the key is for or who holds it (required)").action(
    async (f: KeyFlags) => {
      if (f.name === undefined) throw new CliError("keys create needs --name NAME (what the key is for or who holds it)");
      const now = Date.now();
      const { patch, metadata } = keyChanges(f, now);
      const metaObject = Object.fromEntries([...(metadata ?? [])].filter(([, v]) => v !== ""));
      const { record, secret } = await withKeyStore(f, (s) => s.keys.create({ ...patch, name: f.name as string, metadata: metaObject }, now));
      const v = keyView(record, now);
      if (f.json) json(withSecret(v, secret));
      else out(secretBlock("Created key", v, secret));
    },
  );

  withKeyDbFlags(keys.command("list").description("list every key (never their secrets)")).action(async (f: KeyDbFlags) => {
    const now = Date.now();
    const { views, path } = await withKeyStore(f, (s) => ({ views: s.keys.list().map((r) => keyView(r, now)), path: s.db.path }));
    if (f.json) json(views);
    else out(views.length > 0 ? table(views) : `no keys in ${path} (create one: llmproxy keys create --name NAME)`);
  });

  withKeyDbFlags(keys.command("show").description("show one key (never its secret)").argument("<id>", "key id (key_...)")).action(async (id: string, f: KeyDbFlags) => {
    const now = Date.now();
    const v = await withKeyStore(f, (s) => {
      const record = s.keys.get(id);
      if (record === null) throw new KeyNotFoundError(id);
      return keyView(record, now);
    });
    if (f.json) json(v);
    else out(details(v));
  });

  withKeyFlags(withKeyDbFlags(keys.command("update").description("change a key's name, models, addresses, limits, quotas, expiry or metadata").argument("<id>", "key id")), "a new name").action(
    async (id: string, f: KeyFlags) => {
      const now = Date.now();
      const { patch, metadata } = keyChanges(f, now);
      if (Object.keys(patch).length === 0 && metadata === null) {
        throw new CliError("keys update: nothing to change; pass --name, --models, --ip, --rpm, --tpm, --concurrency, --quota-*, --expires or --metadata");
      }
      const v = await withKeyStore(f, (s) => {
        if (metadata !== null) {
          const merged = new Map(Object.entries(s.keys.get(id)?.metadata ?? {}));
          for (const [k, x] of metadata) {
            if (x === "") merged.delete(k);
            else merged.set(k, x);
          }
          patch.metadata = Object.fromEntries(merged);
        }
        return keyView(s.keys.update(id, patch, now), now);
      });
      if (f.json) json(v);
      else out(`Updated key ${v.id}.\n\n${details(v)}`);
    },
  );

  withKeyDbFlags(keys.command("revoke").description("revoke a key: refused from now on (by a running daemon within a second)").argument("<id>", "key id")).action(async (id: string, f: KeyDbFlags) => {
    const now = Date.now();
    const { record, alreadyRevoked } = await withKeyStore(f, (s) => s.keys.revoke(id, now));
    const v = keyView(record, now);
    if (f.json) json({ ...v, alreadyRevoked });
    else if (alreadyRevoked) out(`Key ${v.id} (${v.name}) was already revoked at ${time(v.revokedAt, "")}; nothing changed.`);
    else out(`Revoked key ${v.id} (${v.name}). It is refused from now on.`);
  });

  withKeyDbFlags(
    keys
      .command("rotate")
      .description("give a key a new secret (printed once); the old one stops after --grace")
      .argument("<id>", "key id")
      .option("--grace <duration>", "how long the old secret keeps working (e.g. 1h); 0 = it stops at once", "0"),
  ).action(async (id: string, f: KeyDbFlags & { grace: string }) => {
    const graceMs = durationFlag("--grace", f.grace);
    const now = Date.now();
    const { record, secret } = await withKeyStore(f, (s) => s.keys.rotate(id, graceMs, now));
    const v = keyView(record, now);
    if (f.json) json(withSecret(v, secret));
    else {
      // with a grace time, details() says until when the old secret works
      out(secretBlock("Rotated key", v, secret) + (v.previousSecretValidUntil === null ? "\n\nThe old secret stopped working now." : ""));
    }
  });
}
