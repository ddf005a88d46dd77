// `llmproxy validate` as a real process: what it prints where, and its exit codes.
// With LLMPROXY_BIN set, this runs against the compiled executable.

import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { llmproxyCommand } from "../helpers/spawn.ts";

const dir = mkdtempSync(join(tmpdir(), "llmproxy-validate-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const VALID = `backends:
  - name: local
    url: \${LOCAL_URL:-http://127.0.0.1:8000}
    provider: openai
models:
  - name: llama
    targets: [{ backend: local }]
`;
const INVALID = `listn: 127.0.0.1:8080
backends:
  - name: local
    url: localhost:8000
    provider: openai
models:
  - name: llama
    targets: [{ backend: remote }]
`;
writeFileSync(join(dir, "good.yaml"), VALID);
writeFileSync(join(dir, "bad.yaml"), INVALID);
writeFileSync(join(dir, "needs-env.yaml"), VALID.replace("${LOCAL_URL:-http://127.0.0.1:8000}", "${LOCAL_URL}"));
mkdirSync(join(dir, "default"));
writeFileSync(join(dir, "default", "llmproxy.yaml"), VALID);

const BAD_LINES = [
  'bad.yaml:1:1: unknown key "listn" (did you mean "listen"?)',
  'bad.yaml:4:10: backends[0].url: must be an http(s) URL, got "localhost:8000"',
  'bad.yaml:8:26: models[0].targets[0].backend: unknown backend "remote" (backends are: local)',
];

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function run(args: string[], opts: { cwd?: string; env?: Record<string, string | undefined> } = {}): Promise<Run> {
  const env: Record<string, string | undefined> = { ...process.env, LLMPROXY_CONFIG: undefined, LOCAL_URL: undefined, ...opts.env };
  const proc = Bun.spawn(llmproxyCommand(["validate", ...args]), {
    cwd: opts.cwd ?? dir,
    env: Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined)),
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}

const lines = (s: string) => s.split("\n").filter((l) => l !== "");

describe("text output", () => {
  test("a valid file prints FILE: ok on stdout and exits 0", async () => {
    expect(await run(["good.yaml"])).toEqual({ code: 0, stdout: "good.yaml: ok\n", stderr: "" });
  });

  test("--quiet prints nothing for a valid file", async () => {
    expect(await run(["--quiet", "good.yaml"])).toEqual({ code: 0, stdout: "", stderr: "" });
  });

  test("an invalid file prints every issue on stderr, one per line, and exits 1", async () => {
    const r = await run(["bad.yaml"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(lines(r.stderr)).toEqual(BAD_LINES);
  });

  test("--quiet still reports an invalid file", async () => {
    const r = await run(["-q", "bad.yaml"]);
    expect(r.code).toBe(1);
    expect(lines(r.stderr)).toEqual(BAD_LINES);
  });

  test("a file that cannot be read is named with the reason, exit 2", async () => {
    expect(await run(["nope.yaml"])).toEqual({ code: 2, stdout: "", stderr: "llmproxy: cannot read nope.yaml: no such file\n" });
    expect(await run(["default"])).toEqual({ code: 2, stdout: "", stderr: "llmproxy: cannot read default: is a directory\n" });
  });

  test("several files: each is checked; unreadable (2) wins over invalid (1)", async () => {
    const r = await run(["good.yaml", "bad.yaml", "nope.yaml"]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("good.yaml: ok\n");
    expect(lines(r.stderr)).toEqual([...BAD_LINES, "llmproxy: cannot read nope.yaml: no such file"]);
    const r2 = await run(["bad.yaml", "good.yaml"]);
    expect(r2.code).toBe(1);
    expect(r2.stdout).toBe("good.yaml: ok\n");
  });

  test("variables come from the environment of the process", async () => {
    const missing = await run(["needs-env.yaml"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe(
      "needs-env.yaml:3:10: backends[0].url: environment variable LOCAL_URL is not set (use ${LOCAL_URL:-default} for a default)\n",
    );
    expect(await run(["needs-env.yaml"], { env: { LOCAL_URL: "http://10.1.2.3:8000" } })).toEqual({ code: 0, stdout: "needs-env.yaml: ok\n", stderr: "" });
  });

  test("without a file: $LLMPROXY_CONFIG, else ./llmproxy.yaml", async () => {
    expect(await run([], { cwd: join(dir, "default") })).toEqual({ code: 0, stdout: "llmproxy.yaml: ok\n", stderr: "" });
    expect(await run([], { env: { LLMPROXY_CONFIG: "bad.yaml" } })).toMatchObject({ code: 1, stdout: "" });
    expect(await run([])).toEqual({ code: 2, stdout: "", stderr: "llmproxy: cannot read llmproxy.yaml: no such file\n" });
  });
});

describe("--json", () => {
  test("valid files", async () => {
    const r = await run(["--json", "good.yaml"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    expect(JSON.parse(r.stdout)).toEqual({ valid: true, files: [{ file: "good.yaml", valid: true, issues: [] }] });
  });

  test("one document for several files, with the same exit codes", async () => {
    const r = await run(["good.yaml", "--json", "bad.yaml", "nope.yaml"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("");
    expect(lines(r.stdout)).toHaveLength(1);
    expect(JSON.parse(r.stdout)).toEqual({
      valid: false,
      files: [
        { file: "good.yaml", valid: true, issues: [] },
        {
          file: "bad.yaml",
          valid: false,
          issues: [
            { path: "", message: 'unknown key "listn" (did you mean "listen"?)', line: 1, col: 1 },
            { path: "backends[0].url", message: 'must be an http(s) URL, got "localhost:8000"', line: 4, col: 10 },
            { path: "models[0].targets[0].backend", message: 'unknown backend "remote" (backends are: local)', line: 8, col: 26 },
          ],
        },
        { file: "nope.yaml", valid: false, error: "cannot read nope.yaml: no such file", issues: [] },
      ],
    });
    expect((await run(["--json", "bad.yaml"])).code).toBe(1);
  });

  test("an issue without a position has null line and col", async () => {
    writeFileSync(join(dir, "empty.yaml"), "# nothing yet\n");
    const r = await run(["--json", "empty.yaml"]);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).files[0].issues).toEqual([{ path: "", message: "config is empty", line: null, col: null }]);
  });
});

test("--help documents the exit codes", async () => {
  const r = await run(["--help"]);
  expect(r.code).toBe(0);
  expect(r.stdout).toContain("2  at least one file cannot be read (this wins over 1)");
});
