// The Node bundle (dist/llmproxy.mjs) as a Node user gets it: it runs on Node, names
// its runtime, runs as package.json's `bin`, and where better-sqlite3 could not be
// built it still starts its commands and says what is missing. The rest of the
// end-to-end suite runs against the bundle too (.ci/run: LLMPROXY_BIN=dist/llmproxy.mjs).
// Needs `npm run build` first; .ci/run builds before it runs these.

import { afterAll, describe, expect, test } from "bun:test";
import { copyFileSync, existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { tempDir } from "../helpers/daemon.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const BUNDLE = join(ROOT, "dist/llmproxy.mjs");
const WORKER = join(ROOT, "dist/usage-worker.mjs");

if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: run npm run build first`);

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function run(argv: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const proc = Bun.spawn(argv, { cwd, stdin: "ignore", stdout: "pipe", stderr: "pipe", env: { ...process.env, LLMPROXY_CONFIG: "" } });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}

describe("dist/llmproxy.mjs on Node", () => {
  test("runs under node (not Bun) and says so", async () => {
    const r = await run(["node", BUNDLE, "version"], ROOT);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^llmproxy \d+\.\d+\.\d+ \(node \d+\.\d+\.\d+, linux-x64\)\n$/);
  });

  test("package.json's bin points at it, and it starts with a node shebang", () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { bin: Record<string, string> };
    expect(pkg.bin.llmproxy).toBe("dist/llmproxy.mjs");
    expect(readFileSync(BUNDLE, "utf8").split("\n", 1)[0]).toBe("#!/usr/bin/env node");
  });

  test("npx llmproxy runs it on Node", async () => {
    const r = await run(["npx", "--no-install", "llmproxy", "version"], ROOT);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("(node ");
  });
});

describe("without better-sqlite3 (a machine that could not build it)", () => {
  // The bundle copied where no node_modules can be found: better-sqlite3 does not resolve.
  const dir = tempDir("node-nosqlite");
  dirs.push(dir);
  copyFileSync(BUNDLE, join(dir, "llmproxy.mjs"));
  copyFileSync(WORKER, join(dir, "usage-worker.mjs"));
  const bin = ["node", join(dir, "llmproxy.mjs")];

  test("commands without a database still run", async () => {
    const v = await run([...bin, "version"], dir);
    expect(v.code).toBe(0);
    const cfg = join(dir, "ok.yaml");
    await Bun.write(cfg, "backends: [{ name: m, provider: mock }]\nmodels: [{ name: x, targets: [{ backend: m }] }]\n");
    const val = await run([...bin, "validate", cfg], dir);
    expect(val.stderr).toBe("");
    expect(val.code).toBe(0);
  });

  test("keys says what is missing and how to get it, exit 1, and creates nothing", async () => {
    const db = join(dir, "keys.db");
    const r = await run([...bin, "keys", "list", "--db", db], dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("better-sqlite3");
    expect(r.stderr).toContain("it is not installed");
    expect(r.stderr).toContain("npm rebuild better-sqlite3");
    expect(r.stderr).toContain("dist/llmproxy");
    expect(r.stderr).not.toContain("    at ");
    expect(r.stdout).toBe("");
    expect(existsSync(db)).toBe(false);
  });

  test("serve says the same and does not start", async () => {
    const r = await run([...bin, "serve", "--demo", "--listen", "127.0.0.1:0"], dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("better-sqlite3");
    expect(r.stderr).not.toContain("listening");
  });
});
