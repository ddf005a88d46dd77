// `llmproxy keys ...` as a real process against a real SQLite file: what it prints
// where, its exit codes, that a bad command line changes nothing, and that a secret is
// printed by create and rotate only. With LLMPROXY_BIN set, this runs against the
// compiled executable.

import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { hashSecret } from "../../src/auth/key-secret.ts";
import { openStore } from "../../src/store/store.ts";
import { llmproxyCommand } from "../helpers/spawn.ts";
import { tempDir } from "../helpers/temp-dir.ts";

const dir = tempDir("cli-keys");
const confDir = join(dir, "conf");
const config = join(confDir, "llmproxy.yaml");
// relative: the database lives beside the config, whatever the working directory
const dbPath = join(confDir, "state", "keys.db");
mkdirSync(confDir);
writeFileSync(
  config,
  `database: ./state/keys.db
backends:
  - name: mock
    provider: mock
models:
  - name: m
    targets: [{ backend: mock }]
`,
);
writeFileSync(join(dir, "invalid.yaml"), "database: 5\nbackends: []\nmodels: []\n");

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function keys(args: string[], env: Record<string, string | undefined> = {}): Promise<Run> {
  const merged: Record<string, string | undefined> = { ...process.env, LLMPROXY_CONFIG: undefined, ...env };
  const proc = Bun.spawn(llmproxyCommand(["keys", ...args]), {
    cwd: dir,
    env: Object.fromEntries(Object.entries(merged).filter((e): e is [string, string] => e[1] !== undefined)),
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}

/** Runs with -c CONFIG and expects exit 0 and nothing on stderr. */
async function ok(args: string[]): Promise<string> {
  const r = await keys([...args, "-c", config]);
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  return r.stdout;
}

interface Created {
  id: string;
  name: string;
  prefix: string;
  secret: string;
  [field: string]: unknown;
}

/** Every secret any command printed: none may show up in list or show. */
const secrets: string[] = [];

async function createJson(args: string[]): Promise<Created> {
  const created = JSON.parse(await ok(["create", "--json", ...args])) as Created;
  secrets.push(created.secret);
  return created;
}

/** The keys as list --json shows them, with the period names (which move at UTC midnight) left out. */
async function snapshot(): Promise<unknown> {
  const list = JSON.parse(await ok(["list", "--json"])) as { usage: Record<string, unknown> }[];
  return list.map((k) => ({ ...k, usage: { ...k.usage, day: undefined, month: undefined } }));
}

const ID_RE = /^key_[a-z2-7]{16}$/;
const SECRET_RE = /^sk-llmp-[0-9A-Za-z]{32}$/;

describe("llmproxy keys", () => {
  test("create prints the secret once in a block that says so; the database is created beside the config, 0600", async () => {
    const stdout = await ok(["create", "--name", "team-a", "--models", "gpt-4o*,llama-*", "--rpm", "60", "--quota-daily", "5000", "--expires", "30d", "--metadata", "team=a"]);
    const secret = /^ {4}(sk-llmp-\S+)$/m.exec(stdout)?.[1] ?? "";
    expect(secret).toMatch(SECRET_RE);
    secrets.push(secret);
    expect(stdout).toMatch(/^Created key key_[a-z2-7]{16} \(team-a\)\. Its secret:$/m);
    expect(stdout).toContain("it is shown only this once and cannot be recovered");
    expect(stdout).toContain(`prefix      ${secret.slice(0, 14)}\n`);
    expect(stdout).toContain("models      gpt-4o*, llama-*\n");
    expect(stdout).toContain("quota       5000 daily\n");
    expect(stdout.split(secret).length).toBe(2); // printed exactly once
    expect(statSync(dbPath).mode & 0o777).toBe(0o600);
    for (const side of ["-wal", "-shm"]) if (existsSync(dbPath + side)) expect(statSync(dbPath + side).mode & 0o077).toBe(0);
  });

  test("create --json gives id, name, prefix and secret first, then the key's settings", async () => {
    const created = await createJson(["--name", "ci", "--ip", "10.0.0.0/8,::1", "--tpm", "1000", "--concurrency", "2", "--quota-tokens", "100000", "--quota-monthly", "50000", "--expires", "2099-01-31"]);
    expect(Object.keys(created).slice(0, 4)).toEqual(["id", "name", "prefix", "secret"]);
    expect(created.id).toMatch(ID_RE);
    expect(created.secret).toMatch(SECRET_RE);
    expect(created.prefix).toBe(created.secret.slice(0, 14));
    expect(created).toMatchObject({
      name: "ci",
      status: "active",
      ips: ["10.0.0.0/8", "::1"],
      models: [],
      limits: { rpm: null, tpm: 1000, concurrency: 2 },
      quota: { total: 100000, daily: null, monthly: 50000 },
      expiresAt: "2099-01-31T00:00:00.000Z",
    });
    expect(JSON.stringify(created)).not.toContain(hashSecret(created.secret));
  });

  test("list: a table, newest first, and --json; never a secret or a hash", async () => {
    const created = await createJson(["--name", "newest"]);
    const table = await ok(["list"]);
    const lines = table.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^ID +NAME +PREFIX +STATUS +MODELS +RPM\/TPM\/CONC +QUOTA \(USED\/LIMIT\) +USED +EXPIRES$/);
    expect(lines[1]).toStartWith(`${created.id}  newest`);
    expect(table).toContain("0/5000 daily");
    expect(table).toContain("60/-/-");
    const list = JSON.parse(await ok(["list", "--json"])) as Record<string, unknown>[];
    expect(list[0]?.id).toBe(created.id);
    expect(list.map((k) => k.name)).toEqual(["newest", "ci", "team-a"]);
    for (const k of list) expect(Object.keys(k)).not.toContainAnyValues(["hash", "secret", "previousHash"]);
    for (const s of secrets) {
      expect(table).not.toContain(s);
      expect(JSON.stringify(list)).not.toContain(s);
      expect(JSON.stringify(list)).not.toContain(hashSecret(s));
    }
  });

  test("show: details and --json, never the secret", async () => {
    const created = await createJson(["--name", "shown", "--metadata", "env=prod", "--metadata", "owner=ops"]);
    const text = await ok(["show", created.id]);
    expect(text).toContain(`id          ${created.id}\n`);
    expect(text).toContain("status      active\n");
    expect(text).toContain("metadata    env=prod, owner=ops\n");
    const json = JSON.parse(await ok(["show", created.id, "--json"])) as Record<string, unknown>;
    expect(json).toMatchObject({ id: created.id, name: "shown", prefix: created.prefix, metadata: { env: "prod", owner: "ops" } });
    for (const s of secrets) expect(text + JSON.stringify(json)).not.toContain(s);
  });

  test("update changes what its flags name; 'none' and '' clear; NAME= removes a label", async () => {
    const created = await createJson(["--name", "u", "--rpm", "5", "--models", "a*", "--metadata", "keep=1", "--metadata", "drop=2", "--expires", "1d"]);
    const text = await ok(["update", created.id, "--name", "renamed", "--tpm", "77"]);
    expect(text).toStartWith(`Updated key ${created.id}.\n`);
    expect(text).toContain("name        renamed\n");
    const json = JSON.parse(await ok(["update", created.id, "--json", "--rpm", "none", "--models", "", "--metadata", "drop=", "--metadata", "new=3", "--expires", "never"])) as Record<string, unknown>;
    expect(json).toMatchObject({ name: "renamed", limits: { rpm: null, tpm: 77, concurrency: null }, models: [], metadata: { keep: "1", new: "3" }, expiresAt: null });
  });

  test("revoke marks the key revoked; revoking it again says so and exits 0", async () => {
    const created = await createJson(["--name", "to-revoke"]);
    expect(await ok(["revoke", created.id])).toBe(`Revoked key ${created.id} (to-revoke). It is refused from now on.\n`);
    expect(await ok(["revoke", created.id])).toMatch(new RegExp(`^Key ${created.id} \\(to-revoke\\) was already revoked at \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ; nothing changed\\.\\n$`));
    expect(JSON.parse(await ok(["revoke", created.id, "--json"]))).toMatchObject({ id: created.id, status: "revoked", alreadyRevoked: true });
    expect(await ok(["list"])).toMatch(new RegExp(`^${created.id} +to-revoke +\\S+ +revoked `, "m"));
  });

  test("rotate prints the new secret once; with --grace the old one still works until then", async () => {
    const created = await createJson(["--name", "rotated"]);
    const text = await ok(["rotate", created.id, "--grace", "1h"]);
    const fresh = /^ {4}(sk-llmp-\S+)$/m.exec(text)?.[1] ?? "";
    expect(fresh).toMatch(SECRET_RE);
    expect(fresh).not.toBe(created.secret);
    secrets.push(fresh);
    expect(text).toStartWith(`Rotated key ${created.id} (rotated). Its secret:`);
    expect(text).toMatch(/^old secret  still accepted until \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/m);
    const store = openStore(dbPath);
    try {
      expect(store.keys.byHash(hashSecret(created.secret))?.id).toBe(created.id);
      expect(store.keys.byHash(hashSecret(fresh))?.id).toBe(created.id);
      const json = JSON.parse(await ok(["rotate", created.id, "--json"])) as Created;
      secrets.push(json.secret);
      expect(Object.keys(json).slice(0, 4)).toEqual(["id", "name", "prefix", "secret"]);
      expect(json.previousSecretValidUntil).toBeNull();
      expect(store.keys.byHash(hashSecret(fresh))).toBeNull();
      expect(store.keys.byHash(hashSecret(json.secret))?.id).toBe(created.id);
    } finally {
      store.close();
    }
  });

  test("a process holding the database open (the daemon) sees the CLI's change through data_version", async () => {
    const daemon = openStore(dbPath);
    try {
      const before = daemon.db.dataVersion();
      const created = await createJson(["--name", "seen-by-daemon"]);
      expect(daemon.db.dataVersion()).not.toBe(before);
      expect(daemon.keys.get(created.id)?.name).toBe("seen-by-daemon");
    } finally {
      daemon.close();
    }
  });

  test("--db names the database directly; a relative path is from the working directory", async () => {
    const r = await keys(["create", "--db", "direct.db", "--name", "direct", "--json"]);
    expect(r.code).toBe(0);
    secrets.push((JSON.parse(r.stdout) as Created).secret);
    expect(statSync(join(dir, "direct.db")).mode & 0o777).toBe(0o600);
    const list = await keys(["list", "--db", join(dir, "direct.db"), "--json"]);
    expect((JSON.parse(list.stdout) as Created[]).map((k) => k.name)).toEqual(["direct"]);
  });

  test("$LLMPROXY_CONFIG is the default config", async () => {
    const r = await keys(["list", "--json"], { LLMPROXY_CONFIG: config });
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as unknown[]).length).toBeGreaterThan(3);
  });

  test("every bad input: one precise line on stderr, exit 1, nothing printed, nothing changed", async () => {
    const { id } = await createJson(["--name", "target"]);
    const unknown = "key_aaaaaaaaaaaaaaaa";
    const hint = 'use a duration from now (30d, 12h), a UTC date (2027-01-31), a date and time with a zone (2027-01-31T12:00:00Z), or "never"';
    const cases: [string[], string | RegExp][] = [
      [["show", unknown], `no key with id "${unknown}" (database: ${dbPath})`],
      [["revoke", unknown], `no key with id "${unknown}" (database: ${dbPath})`],
      [["rotate", unknown], `no key with id "${unknown}" (database: ${dbPath})`],
      [["update", unknown, "--rpm", "5"], `no key with id "${unknown}" (database: ${dbPath})`],
      [["create", "--rpm", "5"], "keys create needs --name NAME (what the key is for or who holds it)"],
      [["create", "--name", ""], "--name: a key needs a name (what it is for, who holds it)"],
      [["create", "--name", "x", "--expires", "30"], `--expires: "30" is not a duration or a date; ${hint}`],
      [["create", "--name", "x", "--expires", "2027-02-30"], `--expires: "2027-02-30" is not a duration or a date; ${hint}`],
      [["create", "--name", "x", "--expires", "2020-01-01"], /^--expires: "2020-01-01" is in the past \(now is .*\)$/],
      [["create", "--name", "x", "--expires", "2099-01-01T10:00:00"], '--expires: "2099-01-01T10:00:00" has no time zone: add Z (UTC) or an offset like +02:00'],
      [["create", "--name", "x", "--ip", "10.0.0.0/33"], '--ip: prefix length /33 in "10.0.0.0/33" is more than 32, the most an IPv4 address has'],
      [["create", "--name", "x", "--ip", "10.0.0.0/8,300.1.1.1"], '--ip: 300 in "300.1.1.1" is more than 255'],
      [["create", "--name", "x", "--ip", "::g"], '--ip: "g" in "::g" is not a group of 1 to 4 hex digits'],
      [["create", "--name", "x", "--models", "gpt-4o,,llama"], '--models: an empty entry in "gpt-4o,,llama"'],
      [["create", "--name", "x", "--models", "gpt-4o, llama\t3"], '--models: model pattern "llama\\t3" contains a control character'],
      [["create", "--name", "x", "--rpm", "abc"], '--rpm must be a whole number >= 1, or "none", got "abc"'],
      [["create", "--name", "x", "--rpm", "-5"], '--rpm must be a whole number >= 1, or "none", got "-5"'],
      [["create", "--name", "x", "--tpm", "1.5"], '--tpm must be a whole number >= 1, or "none", got "1.5"'],
      [["create", "--name", "x", "--concurrency", "0"], '--concurrency must be a whole number >= 1, or "none", got "0"'],
      [["create", "--name", "x", "--quota-tokens", "-1"], '--quota-tokens must be a whole number >= 1, or "none", got "-1"'],
      [["create", "--name", "x", "--quota-daily", "1e6"], '--quota-daily must be a whole number >= 1, or "none", got "1e6"'],
      [["create", "--name", "x", "--metadata", "team"], '--metadata must be NAME=VALUE, got "team"'],
      [["create", "--name", "x", "--metadata", "a b=c"], '--metadata: metadata name "a b" may only use letters, digits and _ . : -'],
      [["update", id], "keys update: nothing to change; pass --name, --models, --ip, --rpm, --tpm, --concurrency, --quota-*, --expires or --metadata"],
      [["update", id, "--rpm", "0"], '--rpm must be a whole number >= 1, or "none", got "0"'],
      [["update", id, "--expires", "soon"], `--expires: "soon" is not a duration or a date; ${hint}`],
      [["rotate", id, "--grace", "5"], '--grace: bad duration "5": use a number and a unit (ms, s, m, h, d), e.g. 500ms or 5s'],
    ];
    const before = await snapshot();
    const runs = await Promise.all(cases.map(([args]) => keys([...args, "-c", config])));
    runs.forEach((r, i) => {
      const [args, message] = cases[i] as [string[], string | RegExp];
      const line = r.stderr.replace(/^llmproxy: /, "").replace(/\n$/, "");
      if (typeof message === "string") expect({ args, line }).toEqual({ args, line: message });
      else expect(line).toMatch(message);
      expect(r.stderr).toStartWith("llmproxy: ");
      expect(r.stderr.split("\n").length).toBe(2);
      expect({ args, code: r.code, stdout: r.stdout }).toEqual({ args, code: 1, stdout: "" });
    });
    expect(await snapshot()).toEqual(before);
  }, 30_000);

  test("a bad flag never creates the database file", async () => {
    const fresh = join(dir, "never-created.db");
    const r = await keys(["create", "--db", fresh, "--name", "x", "--rpm", "-1"]);
    expect(r.code).toBe(1);
    expect(existsSync(fresh)).toBe(false);
  });

  test("revoking or rotating a revoked key: rotate is refused with exit 1", async () => {
    const { id } = await createJson(["--name", "dead"]);
    await ok(["revoke", id]);
    const r = await keys(["rotate", id, "-c", config]);
    expect(r).toEqual({ code: 1, stdout: "", stderr: `llmproxy: key ${id} is revoked and cannot be rotated; create a new key instead\n` });
  });

  test("an invalid config: its issues, then exit 1; an unreadable one: exit 2", async () => {
    const invalid = await keys(["list", "-c", "invalid.yaml"]);
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toBe(
      [
        "invalid.yaml:1:11: database: must be a string, got 5",
        "invalid.yaml:2:11: backends: must not be empty",
        "invalid.yaml:3:9: models: must not be empty",
        "llmproxy: invalid.yaml is not a valid config (see above); fix it, or name the database with --db PATH",
        "",
      ].join("\n"),
    );
    const missing = await keys(["list", "-c", "missing.yaml"]);
    expect(missing).toEqual({ code: 2, stdout: "", stderr: "llmproxy: cannot read missing.yaml: no such file\n" });
    const none = await keys(["list"]);
    expect(none).toEqual({ code: 2, stdout: "", stderr: "llmproxy: cannot read llmproxy.yaml: no such file; pass -c FILE or --db PATH\n" });
  });

  test("command-line syntax errors exit 2: -c with --db, a missing id, an unknown flag", async () => {
    for (const args of [["list", "-c", config, "--db", "x.db"], ["show"], ["create", "--name", "x", "--bogus"]]) {
      const r = await keys(args);
      expect({ args, code: r.code }).toEqual({ args, code: 2 });
      expect(r.stderr).toStartWith("llmproxy: ");
    }
  });

  test(":memory: is refused: nothing would be kept", async () => {
    expect(await keys(["list", "--db", ":memory:"])).toEqual({
      code: 1,
      stdout: "",
      stderr: "llmproxy: --db :memory: holds nothing once this command ends; name a file (the one the daemon uses)\n",
    });
  });

  test("a file that is not a database: exit 1 naming the file", async () => {
    const notDb = join(dir, "notes.db");
    writeFileSync(notDb, "not a database at all; ".repeat(20));
    const r = await keys(["list", "--db", notDb]);
    expect(r).toEqual({ code: 1, stdout: "", stderr: `llmproxy: ${notDb} is not an SQLite database (or it is damaged); move it away or fix it or set database: in the config (or --db) to another path\n` });
  });
});
