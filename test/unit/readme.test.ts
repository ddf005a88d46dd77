// The README is part of the product: these tests keep what it says about the config,
// the errors, the metrics, the endpoints, the access log, the exit codes and the demo in
// step with the code, so that a change to one without the other fails CI.

import { describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { checkReadme, END_MARKER, renderConfigReference, spliceReadme, START_MARKER, type SchemaNode } from "../../scripts/gen-config-docs.ts";
import schema from "../../schemas/config.schema.json" with { type: "json" };
import { EXIT } from "../../src/cli/exit.ts";
import { VERSION } from "../../src/cli/version.ts";
import { loadConfigText } from "../../src/config/load.ts";
import { demoBanner } from "../../src/daemon/demo-config.ts";
import { ERRORS } from "../../src/errors.ts";
import { Logger } from "../../src/log/logger.ts";
import { UsageRecorder } from "../../src/metering/recorder.ts";
import type { UsageResult } from "../../src/metering/usage.ts";
import { registry } from "../../src/metrics/metrics.ts";
import { ENDPOINTS } from "../../src/proxy/endpoints.ts";
import pkg from "../../package.json" with { type: "json" };

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const README = readFileSync(join(ROOT, "README.md"), "utf8");

/** The README's text under a "## " heading, up to the next one. */
function section(heading: string): string {
  const start = README.indexOf(`\n## ${heading}\n`);
  if (start < 0) throw new Error(`README.md has no "## ${heading}" section`);
  const next = README.indexOf("\n## ", start + 1);
  return README.slice(start, next < 0 ? undefined : next);
}

/** The table row (one line) whose first cell is `code`. */
function row(text: string, code: string): string | undefined {
  return text.split("\n").find((l) => l.startsWith(`| \`${code}\` |`));
}

/** Fenced code blocks of a language, in order. */
function codeBlocks(text: string, lang: string): string[] {
  const out: string[] = [];
  const re = new RegExp("```" + lang + "\\n([\\s\\S]*?)```", "g");
  for (const m of text.matchAll(re)) out.push(m[1]!);
  return out;
}

describe("the config reference", () => {
  test("README.md holds what scripts/gen-config-docs.ts generates from the schema (run it after a schema change)", () => {
    const { upToDate } = checkReadme();
    if (!upToDate) throw new Error("README.md's config reference is out of date with schemas/config.schema.json; run: npx bun scripts/gen-config-docs.ts");
    expect(upToDate).toBe(true);
  });

  test("names every schema property with its default", () => {
    const reference = README.slice(README.indexOf(START_MARKER), README.indexOf(END_MARKER));
    for (const path of ["listen", "server.max_body", "backends[].url", "backends[].mock.delay", "models[].targets[].model", "timeouts.total", "log.access", "x-*"]) {
      expect(row(reference, path)).toBeDefined();
    }
    expect(row(reference, "server.drain_timeout")).toContain("`30s`");
    expect(row(reference, "backends")).toContain("required");
  });

  test("--check notices a schema change the README does not have", () => {
    const dir = mkdtempSync(join(tmpdir(), "llmproxy-docs-"));
    try {
      const changed = structuredClone(schema) as unknown as SchemaNode;
      changed.properties!.listen!.description = "A description nobody has generated yet.";
      writeFileSync(join(dir, "schema.json"), JSON.stringify(changed));
      writeFileSync(join(dir, "README.md"), README);
      const result = checkReadme(join(dir, "README.md"), join(dir, "schema.json"));
      expect(result.upToDate).toBe(false);
      expect(result.expected).toContain("A description nobody has generated yet.");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("splicing replaces only the part between the markers", () => {
    const doc = `# t\nbefore\n${START_MARKER}\nold\n${END_MARKER}\nafter\n`;
    expect(spliceReadme(doc, "new")).toBe(`# t\nbefore\n${START_MARKER}\nnew\n${END_MARKER}\nafter\n`);
    expect(() => spliceReadme("no markers", "x")).toThrow(/must contain/);
  });

  test("a table cell cannot be broken by a pipe or turned into emphasis by a star", () => {
    const s: SchemaNode = { type: "object", properties: { a: { type: "string", description: "x | y and *z*", default: "*" } } };
    const line = renderConfigReference(s).split("\n").find((l) => l.startsWith("| `a`"))!;
    expect(line).toContain("x \\| y and \\*z\\*");
    expect(line.split(/(?<!\\)\|/).length).toBe(6);
  });
});

describe("the Quick start", () => {
  test("comes right after the intro, with exactly the two commands", () => {
    const headings = [...README.matchAll(/^## (.+)$/gm)].map((m) => m[1]);
    expect(headings[0]).toBe("Quick start");
    const blocks = codeBlocks(section("Quick start"), "sh").map((b) => b.trim());
    expect(blocks).toContain("npm install && npm start");
    expect(blocks).toContain("npm install && npm test");
    expect(blocks.indexOf("npm install && npm start")).toBeLessThan(blocks.indexOf("npm install && npm test"));
  });

  test("npm start serves the demo and npm test runs the tests", () => {
    expect(pkg.scripts.start).toContain("serve --demo");
    expect(pkg.scripts.test).toStartWith("bun test");
  });

  test("shows the demo's banner as the daemon prints it", () => {
    const banner = demoBanner("http://127.0.0.1:8080", VERSION).trimEnd();
    expect(section("Quick start")).toContain(banner);
  });
});

describe("the HTTP surface", () => {
  const errors = section("HTTP surface");

  test("every error code of src/errors.ts is in the table with its status and type", () => {
    for (const [code, spec] of Object.entries(ERRORS)) {
      const line = row(errors, code);
      if (!line) throw new Error(`README.md's error table has no row for ${code}`);
      const cells = line.split("|").map((c) => c.trim());
      expect(cells[2]).toBe(String(spec.status));
      expect(cells[3]).toBe(`\`${spec.type}\``);
    }
  });

  test("the error table names no code that src/errors.ts does not have", () => {
    const table = errors.slice(errors.indexOf("| code | status | type | when |"));
    const codes = [...table.matchAll(/^\| `([a-z_]+)` \| \d{3} \|/gm)].map((m) => m[1]!);
    expect(codes.sort()).toEqual(Object.keys(ERRORS).sort());
  });

  test("every proxied endpoint is listed", () => {
    for (const path of ENDPOINTS.keys()) expect(errors).toContain(`\`POST ${path}\``);
    for (const path of ["GET /v1/models", "GET /v1/models/{id}", "GET /health", "GET /ready", "GET /metrics", "POST /admin/reload", "GET /admin/config"]) {
      expect(errors).toContain(`\`${path}\``);
    }
  });
});

describe("metrics and the access log", () => {
  test("every metric the registry exports is in the Metrics table, and nothing else", async () => {
    const names = (await registry.getMetricsAsJSON()).map((m) => m.name).sort();
    const table = section("Metrics");
    const listed = [...table.matchAll(/^\| `([a-z_]+)` \| (?:counter|gauge|histogram) \|/gm)].map((m) => m[1]!).sort();
    expect(listed).toEqual(names);
  });

  test("every field of the access-log line is described", () => {
    const lines: string[] = [];
    const recorder = new UsageRecorder(new Logger({ level: "info", format: "json", write: (l) => lines.push(l) }));
    const u: UsageResult = {
      requestId: "r1",
      startedAt: 0,
      keyId: "key_readmereadmeread",
      endpoint: "/v1/chat/completions",
      requestedModel: "m",
      route: "readme-test",
      backend: "readme-test",
      upstreamModel: "m",
      stream: false,
      promptTokens: 1,
      completionTokens: 1,
      cachedTokens: 0,
      cacheWriteTokens: 0,
      totalTokens: 2,
      source: "backend",
      status: 200,
      errorCode: null,
      ttftMs: 1,
      latencyMs: 1,
      retries: 0,
      bytesIn: 1,
      bytesOut: 1,
      clientIp: "127.0.0.1",
      traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    };
    recorder.record(u);
    expect(lines.length).toBe(1);
    const fields = Object.keys(JSON.parse(lines[0]!) as Record<string, unknown>).filter((k) => !["time", "level", "msg"].includes(k));
    const usage = section("Usage metering");
    for (const f of fields) expect(usage).toContain(`\`${f}\``);
  });
});

describe("the CLI reference", () => {
  test("documents each exit code of src/cli/exit.ts", () => {
    const cli = section("CLI reference");
    for (const code of Object.values(EXIT)) expect(cli).toMatch(new RegExp(`^\\| ${code} \\| \\S`, "m"));
  });
});

describe("the example configs", () => {
  const env = { OPENAI_API_KEY: "sk-readme-test" };

  test("every file in examples/ is a valid config", () => {
    const files = readdirSync(join(ROOT, "examples")).filter((f) => f.endsWith(".yaml"));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) {
      const r = loadConfigText(readFileSync(join(ROOT, "examples", f), "utf8"), f, env);
      if (!r.ok) throw new Error(`examples/${f} is invalid:\n${r.issues.map((i) => `${i.line}:${i.col}: ${i.path}: ${i.message}`).join("\n")}`);
    }
  });

  test("the README's example is examples/llmproxy.yaml, word for word", () => {
    const example = readFileSync(join(ROOT, "examples/llmproxy.yaml"), "utf8");
    expect(codeBlocks(section("Configuration"), "yaml")).toContain(example);
  });
});
