// ${VAR} interpolation: values come from the environment verbatim, never change the YAML
// structure, and never move the positions of errors.

import { describe, expect, test } from "bun:test";
import { formatIssue } from "../../src/config/format.ts";
import { maskVariables, resolvePlainScalar, substitute } from "../../src/config/interpolate.ts";
import { loadConfigText } from "../../src/config/load.ts";
import type { Config } from "../../src/config/types.ts";

function configOf(lines: string[], env: Record<string, string | undefined>): Config {
  const r = loadConfigText(lines.join("\n"), "llmproxy.yaml", env);
  if (!r.ok) throw new Error(r.issues.map((i) => formatIssue("llmproxy.yaml", i)).join("\n"));
  return r.loaded.config;
}

function errorsOf(lines: string[], env: Record<string, string | undefined>): string[] {
  const r = loadConfigText(lines.join("\n"), "llmproxy.yaml", env);
  return r.ok ? [] : r.issues.map((i) => formatIssue("llmproxy.yaml", i));
}

const backend = (extra: string[] = []) => ["backends:", "  - name: a", "    provider: openai", "    url: ${A_URL:-http://127.0.0.1:8000}", ...extra];
const models = ["models: [{ name: m, targets: [{ backend: a }] }]"];

describe("values", () => {
  test("a variable is replaced by its value", () => {
    const c = configOf([...backend(["    api_key: ${KEY}"]), ...models], { KEY: "sk-123" });
    expect(c.backends[0]?.apiKey).toBe("sk-123");
  });

  test("the default is used when the variable is unset or empty", () => {
    expect(configOf([...backend(), ...models], {}).backends[0]?.url).toBe("http://127.0.0.1:8000");
    expect(configOf([...backend(), ...models], { A_URL: "" }).backends[0]?.url).toBe("http://127.0.0.1:8000");
    expect(configOf([...backend(), ...models], { A_URL: "http://10.0.0.1:9" }).backends[0]?.url).toBe("http://10.0.0.1:9");
  });

  test("an empty default gives an empty string, not YAML's null", () => {
    expect(configOf([...backend(), ...models, "admin_token: ${TOKEN:-}"], {}).adminToken).toBe("");
  });

  test("a variable set to an empty string without a default is empty, not missing", () => {
    expect(configOf([...backend(), ...models, "admin_token: ${TOKEN}"], { TOKEN: "" }).adminToken).toBe("");
  });

  test("a value is taken verbatim: YAML characters in it do not change the structure", () => {
    const nasty = "a #b: *c & 'd' \"e\" f: g, {h}";
    const c = configOf([...backend(["    api_key: ${KEY}", '    headers: { x-k: "${KEY}", x-f: ${KEY} }']), ...models], { KEY: nasty });
    expect(c.backends[0]?.apiKey).toBe(nasty);
    expect(c.backends[0]?.headers).toEqual({ "x-k": nasty, "x-f": nasty });
    const multiline = "line one\nmodels: []";
    expect(configOf([...backend(["    api_key: ${KEY}"]), ...models], { KEY: multiline }).backends[0]?.apiKey).toBe(multiline);
  });

  test("a value is not interpolated again", () => {
    expect(configOf([...backend(), ...models, "admin_token: ${T}"], { T: "${OTHER}" }).adminToken).toBe("${OTHER}");
  });

  test("references work inside flow maps, quoted strings, block scalars and as part of a value", () => {
    const c = configOf(
      [
        "backends:",
        "  - { name: a, provider: openai, url: 'http://${HOST}:${PORT:-8000}' }",
        "models: [{ name: m, targets: [{ backend: a, model: \"${PREFIX}/llama\" }] }]",
        "admin_token: |",
        "  ${TOKEN}",
      ],
      { HOST: "vllm", PREFIX: "meta", TOKEN: "t0k" },
    );
    expect(c.backends[0]?.url).toBe("http://vllm:8000");
    expect(c.models[0]?.targets[0]?.model).toBe("meta/llama");
    expect(c.adminToken).toBe("t0k\n");
  });

  test("an unquoted value that reads as a number or boolean becomes one", () => {
    const c = configOf([...backend(["    weight: ${W:-3}", "    max_inflight: ${MI}"]), ...models, "server: { backend_header: ${BH} }"], { MI: "64", BH: "true" });
    expect(c.backends[0]?.weight).toBe(3);
    expect(c.backends[0]?.maxInflight).toBe(64);
    expect(c.server.backendHeader).toBe(true);
  });

  test("a variable that reads as a number stays a string where only a string is allowed", () => {
    const c = configOf([...backend(["    api_key: ${KEY}", "    headers: { x-n: ${KEY} }"]), ...models, "admin_token: ${KEY}", "server: { max_body: ${KEY} }"], { KEY: "12345" });
    expect(c.backends[0]?.apiKey).toBe("12345");
    expect(c.backends[0]?.headers).toEqual({ "x-n": "12345" });
    expect(c.adminToken).toBe("12345");
    expect(c.server.maxBodyBytes).toBe(12345);
  });

  test("a quoted or !!str-tagged value stays a string", () => {
    expect(errorsOf([...backend(['    weight: "${W:-3}"']), ...models], {})).toEqual([
      'llmproxy.yaml:5:13: backends[0].weight: must be an integer, got "3"',
    ]);
    expect(configOf([...backend(), ...models, "admin_token: !!str ${T}"], { T: "123" }).adminToken).toBe("123");
  });

  test("$${ is a literal ${", () => {
    expect(configOf([...backend(), ...models, "admin_token: a$${B}c"], {}).adminToken).toBe("a${B}c");
  });
});

describe("comments and positions", () => {
  test("a reference in a comment is ignored, even when unset", () => {
    expect(errorsOf(["# set ${LLMPROXY_ADMIN_TOKEN} first", ...backend(), ...models, "admin_token: x # or ${NOPE}"], {})).toEqual([]);
  });

  test("errors after a reference keep the position of the text as written", () => {
    expect(errorsOf(["backends: [{ name: a, provider: openai, url: '${A_URL:-http://x}', weight: -1 }]", ...models], {})).toEqual([
      "llmproxy.yaml:1:76: backends[0].weight: must be at least 0, got -1",
    ]);
  });

  test("several missing variables are each reported at their reference", () => {
    expect(errorsOf(["backends:", "  - { name: a, provider: openai, url: 'http://${HOST}:${PORT}' }", ...models], {})).toEqual([
      "llmproxy.yaml:2:47: backends[0].url: environment variable HOST is not set (use ${HOST:-default} for a default)",
      "llmproxy.yaml:2:55: backends[0].url: environment variable PORT is not set (use ${PORT:-default} for a default)",
    ]);
  });
});

describe("the pieces", () => {
  test("masking keeps the length of the text and every line break", () => {
    const text = "a: ${X}\nb: $${Y}\nc: ${Z:-1}\n";
    const m = maskVariables(text);
    expect(m.text.length).toBe(text.length);
    expect(m.text.split("\n").map((l) => l.length)).toEqual(text.split("\n").map((l) => l.length));
    expect(m.refs.map((r) => [r.name, r.fallback, r.offset])).toEqual([
      ["X", undefined, 3],
      ["Z", "1", 20],
    ]);
  });

  test("substitute reports missing variables and malformed references", () => {
    const m = maskVariables("${A}-${B}-${C:-c}");
    const r = substitute(m.text, m.refs, { A: "a" });
    expect(r.value).toBe("a--c");
    expect(r.missing.map((x) => x.name)).toEqual(["B"]);
    expect(substitute("x${", [], {}).malformed).toBe(true);
  });

  test("plain scalars resolve as YAML 1.2 core would", () => {
    expect(resolvePlainScalar("42")).toBe(42);
    expect(resolvePlainScalar("-7")).toBe(-7);
    expect(resolvePlainScalar("0x1f")).toBe(31);
    expect(resolvePlainScalar("1.5")).toBe(1.5);
    expect(resolvePlainScalar("false")).toBe(false);
    expect(resolvePlainScalar("~")).toBeNull();
    expect(resolvePlainScalar("")).toBe("");
    expect(resolvePlainScalar("yes")).toBe("yes");
    expect(resolvePlainScalar("1.2.3")).toBe("1.2.3");
  });
});
