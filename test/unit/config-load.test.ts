import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { formatIssue } from "../../src/config/format.ts";
import { ConfigReadError, loadConfigFile, loadConfigObject, loadConfigText } from "../../src/config/load.ts";
import type { LoadedConfig } from "../../src/config/types.ts";

const dir = mkdtempSync(join(tmpdir(), "llmproxy-config-load-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const TEXT = `# a config
listen: 127.0.0.1:8080
backends:
  - name: a
    url: http://127.0.0.1:8000
    provider: openai
    api_key: \${KEY:-sk-default}
models:
  - name: m
    targets: [{ backend: a }]
`;

function loaded(text: string, env: Record<string, string | undefined> = {}): LoadedConfig {
  const r = loadConfigText(text, "llmproxy.yaml", env);
  if (!r.ok) throw new Error(r.issues.map((i) => formatIssue("llmproxy.yaml", i)).join("\n"));
  return r.loaded;
}

describe("hash", () => {
  test("is the same for the same config written differently (comments, key order, defaults spelled out)", () => {
    const other = `backends: [{ provider: openai, name: a, url: "http://127.0.0.1:8000/", api_key: sk-default, weight: 1 }]
models: [{ targets: [{ backend: a }], name: m, strategy: round_robin }]
listen: "127.0.0.1:8080"
timeouts: { connect: 5000ms }
`;
    expect(loaded(other).hash).toBe(loaded(TEXT).hash);
    expect(loaded(TEXT).hash).toMatch(/^[0-9a-f]{64}$/);
  });

  test("changes when anything in the normalized config changes, secrets included", () => {
    const base = loaded(TEXT).hash;
    expect(loaded(TEXT, { KEY: "sk-other" }).hash).not.toBe(base);
    expect(loaded(TEXT.replace("8080", "8081")).hash).not.toBe(base);
    expect(loaded(TEXT + "retries: { attempts: 3 }\n").hash).not.toBe(base);
  });
});

test("the normalized config is deeply frozen", () => {
  const { config } = loaded(TEXT);
  expect(Object.isFrozen(config)).toBe(true);
  expect(Object.isFrozen(config.backends)).toBe(true);
  expect(Object.isFrozen(config.backends[0]?.headers)).toBe(true);
  expect(Object.isFrozen(config.models[0]?.targets[0])).toBe(true);
  expect(() => {
    (config.listen as { port: number }).port = 1;
  }).toThrow();
});

test("loading the same text twice gives equal, separate configs", () => {
  const a = loaded(TEXT);
  const b = loaded(TEXT);
  expect(b.config).toEqual(a.config);
  expect(b.config).not.toBe(a.config);
});

describe("loadConfigObject", () => {
  const demo = {
    listen: "127.0.0.1:0",
    backends: [{ name: "mock", provider: "mock" }],
    models: [{ name: "*", targets: [{ backend: "mock" }] }],
  };

  test("checks and normalizes data, leaving the caller's object untouched", () => {
    const before = JSON.stringify(demo);
    const r = loadConfigObject(demo);
    expect(r.ok).toBe(true);
    if (r.ok) {
      expect(r.loaded.config.backends[0]?.mock.tokens).toBe(16);
      expect(r.loaded.file).toBeNull();
    }
    expect(JSON.stringify(demo)).toBe(before);
  });

  test("reports issues without positions", () => {
    const r = loadConfigObject({ ...demo, listen: "nope" }, "demo");
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.file).toBe("demo");
      expect(r.issues).toEqual([{ path: "listen", message: 'bad listen address "nope": use host:port, e.g. 127.0.0.1:8080 or [::1]:8080' }]);
      expect(formatIssue("demo", r.issues[0]!)).toBe('demo: listen: bad listen address "nope": use host:port, e.g. 127.0.0.1:8080 or [::1]:8080');
    }
  });
});

describe("loadConfigFile", () => {
  test("reads a file and names it in the result", async () => {
    const path = join(dir, "ok.yaml");
    writeFileSync(path, TEXT);
    const r = await loadConfigFile(path, {});
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.loaded.file).toBe(path);
  });

  test("a missing file throws ConfigReadError naming the file and the reason", async () => {
    const path = join(dir, "nope.yaml");
    const err = await loadConfigFile(path).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigReadError);
    expect((err as ConfigReadError).file).toBe(path);
    expect((err as ConfigReadError).message).toBe(`cannot read ${path}: no such file`);
  });

  test("a directory throws ConfigReadError", async () => {
    const path = join(dir, "a-dir");
    mkdirSync(path);
    const err = await loadConfigFile(path).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigReadError);
    expect((err as ConfigReadError).message).toBe(`cannot read ${path}: is a directory`);
  });

  // (permission denied cannot be produced here: the tests may run as root)
  test("a path through a file throws ConfigReadError with the OS reason", async () => {
    const file = join(dir, "plain.yaml");
    writeFileSync(file, TEXT);
    const path = join(file, "llmproxy.yaml");
    const err = await loadConfigFile(path).catch((e: unknown) => e);
    expect((err as ConfigReadError).message).toBe(`cannot read ${path}: a part of the path is not a directory`);
  });

  test("a byte-order mark does not move positions", async () => {
    const path = join(dir, "bom.yaml");
    writeFileSync(path, "\uFEFFlisten: nope\n" + TEXT.split("\n").slice(2).join("\n"));
    const r = await loadConfigFile(path, {});
    expect(r.ok ? [] : r.issues.map((i) => formatIssue("bom.yaml", i))).toEqual([
      'bom.yaml:1:9: listen: bad listen address "nope": use host:port, e.g. 127.0.0.1:8080 or [::1]:8080',
    ]);
  });
});

describe("formatIssue", () => {
  test("file:line:col: path: message", () => {
    expect(formatIssue("llmproxy.yaml", { path: "backends[1].url", message: "m", line: 14, col: 7 })).toBe("llmproxy.yaml:14:7: backends[1].url: m");
  });
  test("without a position or a path", () => {
    expect(formatIssue("llmproxy.yaml", { path: "", message: "config is empty" })).toBe("llmproxy.yaml: config is empty");
    expect(formatIssue(null, { path: "listen", message: "m" })).toBe("<config>: listen: m");
  });
});

test("an api_key never appears in an issue", () => {
  const r = loadConfigText(TEXT.replace("provider: openai", "provider: openai\n    weight: heavy"), "llmproxy.yaml", { KEY: "sk-very-secret" });
  expect(r.ok).toBe(false);
  expect(JSON.stringify(r)).not.toContain("sk-very-secret");
});

test("redactConfig hides api keys, the admin token and header values, and nothing else", async () => {
  const { redactConfig, REDACTED } = await import("../../src/config/redact.ts");
  const { config } = loaded(TEXT.replace("listen:", 'admin_token: adm\nlisten:').replace("    api_key:", "    headers: { x-key: hv }\n    api_key:"));
  const shown = redactConfig(config);
  const text = JSON.stringify(shown);
  for (const secret of ["sk-default", "adm", "hv"]) expect(text).not.toContain(`"${secret}"`);
  expect(shown.adminToken).toBe(REDACTED);
  expect(shown.backends[0]?.apiKey).toBe(REDACTED);
  expect(shown.backends[0]?.headers).toEqual({ "x-key": REDACTED });
  expect({ ...shown, adminToken: config.adminToken, backends: config.backends }).toEqual(config);
});
