// Every kind of bad config, with the exact line an operator sees. The files are real
// files in a temp dir, read by loadConfigFile like the daemon does.

import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { formatIssue } from "../../src/config/format.ts";
import { loadConfigFile } from "../../src/config/load.ts";

const dir = mkdtempSync(join(tmpdir(), "llmproxy-config-errors-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
/** The issue lines for a config made of these lines, as `llmproxy validate` prints them. */
async function errorsOf(lines: string[], env: Record<string, string | undefined> = {}): Promise<string[]> {
  const path = join(dir, `config-${++n}.yaml`);
  writeFileSync(path, lines.join("\n") + "\n");
  const r = await loadConfigFile(path, env);
  if (r.ok) return [];
  expect(r.file).toBe(path);
  return r.issues.map((i) => formatIssue("llmproxy.yaml", i));
}

const BACKENDS = [
  "backends:",
  "  - name: vllm-a",
  "    url: http://127.0.0.1:8000",
  "    provider: openai",
  "  - name: vllm-b",
  "    url: http://127.0.0.1:8001",
  "    provider: openai",
];
const MODELS = ["models:", "  - name: llama", "    targets: [{ backend: vllm-a }, { backend: vllm-b }]"];

test("the base config used below is valid", async () => {
  expect(await errorsOf([...BACKENDS, ...MODELS])).toEqual([]);
});

describe("YAML", () => {
  test("a syntax error is reported once, at its line and column", async () => {
    expect(await errorsOf(["listen: 127.0.0.1:8080", "backends: [{ name: a, provider: mock }", ...MODELS])).toEqual([
      "llmproxy.yaml:3:1: YAML syntax error: flow sequence in block collection must be sufficiently indented and end with a ]",
    ]);
  });

  test("a tab used as indentation is a syntax error", async () => {
    expect(await errorsOf([...BACKENDS, "models:", "\t- name: llama"])).toEqual([
      "llmproxy.yaml:9:1: YAML syntax error: tabs are not allowed as indentation",
    ]);
  });

  test("a duplicate key is an error naming the line of the first one", async () => {
    expect(await errorsOf(["listen: 127.0.0.1:8080", ...BACKENDS, "listen: 127.0.0.1:9090", ...MODELS])).toEqual([
      'llmproxy.yaml:9:1: listen: duplicate key "listen" (first set on line 1)',
    ]);
  });

  test("a duplicate key deep inside is reported with its path", async () => {
    expect(
      await errorsOf(["backends:", "  - name: a", "    provider: mock", "    weight: 1", "    weight: 2", ...MODELS]),
    ).toEqual(['llmproxy.yaml:5:5: backends[0].weight: duplicate key "weight" (first set on line 4)']);
  });

  test("an empty file, or one with only comments, is an error", async () => {
    expect(await errorsOf([""])).toEqual(["llmproxy.yaml: config is empty"]);
    expect(await errorsOf(["# just a comment", "   "])).toEqual(["llmproxy.yaml: config is empty"]);
  });

  test("a file that is not a map is an error", async () => {
    expect(await errorsOf(["- listen: 127.0.0.1:8080"])).toEqual(["llmproxy.yaml:1:1: the config must be a map (key: value), got a list"]);
  });

  test("two YAML documents in one file are an error", async () => {
    expect(await errorsOf([...BACKENDS, ...MODELS, "---", "listen: 127.0.0.1:1"])).toEqual([
      "llmproxy.yaml:11:1: YAML syntax error: the file holds more than one YAML document (remove the second ---)",
    ]);
  });

  test("an alias to an anchor that does not exist is an error", async () => {
    expect(await errorsOf(["backends:", "  - *backend", ...MODELS])).toEqual([
      "llmproxy.yaml:2:5: backends[0]: unknown alias *backend (define &backend before using it)",
    ]);
  });
});

describe("schema", () => {
  test("an unknown key is reported at the key, with a suggestion", async () => {
    expect(await errorsOf(["listn: 127.0.0.1:8080", ...BACKENDS, ...MODELS])).toEqual([
      'llmproxy.yaml:1:1: unknown key "listn" (did you mean "listen"?)',
    ]);
  });

  test("an unknown key inside a backend names the backend and suggests the right key", async () => {
    expect(await errorsOf(["backends:", "  - name: a", "    provider: mock", "    wieght: 2", "models: [{ name: llama, targets: [{ backend: a }] }]"])).toEqual([
      'llmproxy.yaml:4:5: backends[0]: unknown key "wieght" (did you mean "weight"?)',
    ]);
  });

  test("an unknown key that resembles nothing lists the known keys", async () => {
    expect(await errorsOf([...BACKENDS, ...MODELS, "retries: { tries: 3 }"])).toEqual([
      'llmproxy.yaml:11:12: retries: unknown key "tries" (known keys: attempts, backoff)',
    ]);
  });

  test("a missing required key is reported at its parent", async () => {
    expect(await errorsOf(["listen: 127.0.0.1:8080", ...MODELS])).toEqual([
      'llmproxy.yaml:1:1: missing required key "backends"',
    ]);
    expect(await errorsOf(["backends:", "  - name: a", "    url: http://127.0.0.1:8000", "models: [{ name: llama, targets: [{ backend: a }] }]"])).toEqual([
      'llmproxy.yaml:2:5: backends[0]: missing required key "provider"',
    ]);
  });

  test("a value of the wrong type says what was expected and what was found", async () => {
    expect(await errorsOf([...BACKENDS, ...MODELS, "retries:", "  attempts: three"])).toEqual([
      'llmproxy.yaml:12:13: retries.attempts: must be an integer, got "three"',
    ]);
    expect(await errorsOf([...BACKENDS, ...MODELS, "metrics: { path: 42 }"])).toEqual(["llmproxy.yaml:11:18: metrics.path: must be a string, got 42"]);
    expect(await errorsOf([...BACKENDS, ...MODELS, "log: { access: yes }"])).toEqual([
      'llmproxy.yaml:11:16: log.access: must be true or false, got "yes"',
    ]);
    expect(await errorsOf([...BACKENDS, ...MODELS, "timeouts: [5s]"])).toEqual([
      "llmproxy.yaml:11:11: timeouts: must be a map (key: value), got a list",
    ]);
  });

  test("the value of a secret is never shown", async () => {
    const lines = [
      ...BACKENDS.slice(0, 4),
      "    api_key: 123456789",
      "    headers: { authorization: [Bearer, x] }",
      "models: [{ name: llama, targets: [{ backend: vllm-a }] }]",
      "admin_token: 42",
    ];
    expect(await errorsOf(lines)).toEqual([
      "llmproxy.yaml:5:14: backends[0].api_key: must be a string, got a number",
      "llmproxy.yaml:6:31: backends[0].headers.authorization: must be a string, got a list",
      "llmproxy.yaml:8:14: admin_token: must be a string, got a number",
    ]);
  });

  test("an empty value where a map is expected points at the key", async () => {
    expect(await errorsOf([...BACKENDS, ...MODELS, "server:"])).toEqual([
      "llmproxy.yaml:11:1: server: must be a map (key: value), got an empty value",
    ]);
  });

  test("a value outside an enum lists the allowed ones", async () => {
    expect(await errorsOf([...BACKENDS, "models:", "  - name: llama", "    strategy: fastest", "    targets: [{ backend: vllm-a }]"])).toEqual([
      'llmproxy.yaml:10:15: models[0].strategy: must be one of round_robin, weighted, least_inflight, latency, priority; got "fastest"',
    ]);
  });

  test("numbers out of range", async () => {
    expect(await errorsOf([...BACKENDS, ...MODELS, "retries: { attempts: 11 }"])).toEqual([
      "llmproxy.yaml:11:22: retries.attempts: must be at most 10, got 11",
    ]);
    expect(await errorsOf([...BACKENDS.slice(0, 4), "    weight: -1", ...MODELS.slice(0, 2), "    targets: [{ backend: vllm-a }]"])).toEqual([
      "llmproxy.yaml:5:13: backends[0].weight: must be at least 0, got -1",
    ]);
  });

  test("an empty list where one item is needed", async () => {
    expect(await errorsOf(["backends: []", ...MODELS])).toEqual(["llmproxy.yaml:1:11: backends: must not be empty"]);
  });

  test("a bad duration shows the expected form", async () => {
    expect(await errorsOf([...BACKENDS, ...MODELS, "timeouts:", "  connect: 5 sec"])).toEqual([
      'llmproxy.yaml:12:12: timeouts.connect: bad duration "5 sec": use a number and a unit (ms, s, m, h, d), e.g. 500ms or 5s',
    ]);
  });

  test("a bare number is not a duration", async () => {
    expect(await errorsOf([...BACKENDS, ...MODELS, "timeouts:", "  total: 30"])).toEqual([
      "llmproxy.yaml:12:10: timeouts.total: bad duration 30: use a number and a unit (ms, s, m, h, d), e.g. 500ms or 5s",
    ]);
  });

  test("a bad size shows the expected form", async () => {
    expect(await errorsOf([...BACKENDS, ...MODELS, "server:", "  max_body: 10 megs"])).toEqual([
      'llmproxy.yaml:12:13: server.max_body: bad size "10 megs": use a number of bytes, or a number and a unit (KB, MB, GB, KiB, MiB, GiB), e.g. 512KiB or 10MiB',
    ]);
    expect(await errorsOf([...BACKENDS, ...MODELS, "server:", "  max_body: -5"])).toEqual([
      "llmproxy.yaml:12:13: server.max_body: bad size -5: use a number of bytes, or a number and a unit (KB, MB, GB, KiB, MiB, GiB), e.g. 512KiB or 10MiB",
    ]);
    expect(await errorsOf([...BACKENDS, ...MODELS, "server:", "  max_body: 0KiB"])).toEqual([
      'llmproxy.yaml:12:13: server.max_body: must be greater than 0, got "0KiB"',
    ]);
  });

  test("a bad listen address shows the expected form", async () => {
    expect(await errorsOf(['listen: "8080"', ...BACKENDS, ...MODELS])).toEqual([
      'llmproxy.yaml:1:9: listen: bad listen address "8080": use host:port, e.g. 127.0.0.1:8080 or [::1]:8080',
    ]);
    expect(await errorsOf(["listen: 8080", ...BACKENDS, ...MODELS])).toEqual([
      "llmproxy.yaml:1:9: listen: bad listen address 8080: use host:port, e.g. 127.0.0.1:8080 or [::1]:8080",
    ]);
  });

  test("a port out of range is an error", async () => {
    expect(await errorsOf(["listen: 0.0.0.0:70000", ...BACKENDS, ...MODELS])).toEqual([
      'llmproxy.yaml:1:9: listen: bad listen address "0.0.0.0:70000": the port must be 0-65535 (0 picks a free port)',
    ]);
  });

  test("an IPv6 listen address needs brackets", async () => {
    expect(await errorsOf(["listen: ::1:8080", ...BACKENDS, ...MODELS])).toEqual([
      'llmproxy.yaml:1:9: listen: bad listen address "::1:8080": put an IPv6 address in brackets, e.g. [::1]:8080',
    ]);
  });

  test("a backend url must be an http(s) URL without query or fragment", async () => {
    const backend = (url: string) => ["backends:", "  - name: vllm-a", `    url: ${url}`, "    provider: openai", "models:", "  - name: llama", "    targets: [{ backend: vllm-a }]"];
    expect(await errorsOf(backend("localhost:8000"))).toEqual(['llmproxy.yaml:3:10: backends[0].url: must be an http(s) URL, got "localhost:8000"']);
    expect(await errorsOf(backend("ftp://example.com"))).toEqual(['llmproxy.yaml:3:10: backends[0].url: must be an http(s) URL, got "ftp://example.com"']);
    expect(await errorsOf(backend('"http://x:8000/?a=1"'))).toEqual([
      'llmproxy.yaml:3:10: backends[0].url: must be an http(s) URL without a ?query, got "http://x:8000/?a=1"',
    ]);
    expect(await errorsOf(backend('"http://x:8000/#top"'))).toEqual([
      'llmproxy.yaml:3:10: backends[0].url: must be an http(s) URL without a #fragment, got "http://x:8000/#top"',
    ]);
    expect(await errorsOf(backend("http://user:pw@x:8000"))).toEqual([
      'llmproxy.yaml:3:10: backends[0].url: must be an http(s) URL without user:password@ (use api_key or headers), got "http://user:pw@x:8000"',
    ]);
  });

  test("a bad name", async () => {
    expect(await errorsOf(["backends:", "  - name: my backend", "    provider: mock", "models:", "  - name: -llama", "    targets: [{ backend: x }]"])).toEqual([
      'llmproxy.yaml:2:11: backends[0].name: bad name "my backend": use letters, digits and . _ : / @ + - (starting with a letter or digit)',
      'llmproxy.yaml:5:11: models[0].name: bad name "-llama": use letters, digits and . _ : / @ + - (starting with a letter or digit), or "*"',
      'llmproxy.yaml:6:26: models[0].targets[0].backend: unknown backend "x" (backends are: my backend)',
    ]);
  });

  test("a route name of the wrong type is reported once", async () => {
    expect(await errorsOf([...BACKENDS, "models:", "  - name: 7", "    targets: [{ backend: vllm-a }]"])).toEqual([
      "llmproxy.yaml:9:11: models[0].name: must be a string, got 7",
    ]);
  });
});

describe("environment variables", () => {
  test("a missing variable is reported at the reference, naming it", async () => {
    expect(await errorsOf([...BACKENDS, ...MODELS, "admin_token: ${LLMPROXY_ADMIN_TOKEN}"])).toEqual([
      "llmproxy.yaml:11:14: admin_token: environment variable LLMPROXY_ADMIN_TOKEN is not set (use ${LLMPROXY_ADMIN_TOKEN:-default} for a default)",
    ]);
  });

  test("a missing variable makes no further noise about the value it would have filled", async () => {
    expect(await errorsOf(["backends:", "  - name: a", "    url: ${A_URL}", "    provider: openai", ...MODELS.slice(0, 2), "    targets: [{ backend: a }]"])).toEqual([
      "llmproxy.yaml:3:10: backends[0].url: environment variable A_URL is not set (use ${A_URL:-default} for a default)",
    ]);
  });

  test("a malformed reference is an error; in a comment it is not", async () => {
    expect(await errorsOf(["# ${not closed", ...BACKENDS, ...MODELS, "admin_token: abc${1X}"])).toEqual([
      'llmproxy.yaml:12:17: admin_token: bad variable reference: use ${NAME} or ${NAME:-default} (NAME: letters, digits, _), or $${ for a literal "${"',
    ]);
  });
});

describe("semantic checks", () => {
  test("two backends with the same name", async () => {
    expect(await errorsOf([...BACKENDS, "  - name: vllm-a", "    provider: mock", ...MODELS])).toEqual([
      'llmproxy.yaml:8:11: backends[2].name: duplicate backend name "vllm-a" (also backends[0])',
    ]);
  });

  test("two routes with the same model name", async () => {
    expect(await errorsOf([...BACKENDS, ...MODELS, "  - name: llama", "    targets: [{ backend: vllm-b }]"])).toEqual([
      'llmproxy.yaml:11:11: models[1].name: duplicate model name "llama" (also models[0])',
    ]);
  });

  test("more than one catch-all route", async () => {
    expect(await errorsOf([...BACKENDS, "models:", '  - name: "*"', "    targets: [{ backend: vllm-a }]", "  - name: '*'", "    targets: [{ backend: vllm-b }]"])).toEqual([
      'llmproxy.yaml:11:11: models[1].name: only one "*" route is allowed (the other is models[0])',
    ]);
  });

  test("a target naming an unknown backend lists the known ones", async () => {
    expect(await errorsOf([...BACKENDS, "models:", "  - name: llama", "    targets:", "      - backend: vllm-a", "      - backend: vllm-c"])).toEqual([
      'llmproxy.yaml:12:18: models[0].targets[1].backend: unknown backend "vllm-c" (backends are: vllm-a, vllm-b)',
    ]);
  });

  test("a fallback to an unknown model, or to itself", async () => {
    expect(await errorsOf([...BACKENDS, ...MODELS, "    fallback: [gpt-4o, llama]"])).toEqual([
      'llmproxy.yaml:11:16: models[0].fallback[0]: unknown model "gpt-4o" (models are: llama)',
      "llmproxy.yaml:11:24: models[0].fallback[1]: a model cannot fall back to itself",
    ]);
  });

  test("a fallback cycle is reported once, where it closes", async () => {
    const route = (name: string, fallback: string) => [`  - name: ${name}`, "    targets: [{ backend: vllm-a }]", `    fallback: [${fallback}]`];
    expect(await errorsOf([...BACKENDS, "models:", ...route("a", "b"), ...route("b", "c"), ...route("c", "a")])).toEqual([
      "llmproxy.yaml:17:16: models[2].fallback[0]: fallback cycle: a -> b -> c -> a",
    ]);
  });

  test("a backend other than mock without url", async () => {
    expect(await errorsOf(["backends:", "  - name: vllm-a", "    provider: openai", ...MODELS.slice(0, 2), "    targets: [{ backend: vllm-a }]"])).toEqual([
      'llmproxy.yaml:2:5: backends[0]: missing required key "url" (every backend but provider mock needs one)',
    ]);
  });

  test("timeouts must be longer than 0; mock delays may be 0", async () => {
    expect(
      await errorsOf([
        "backends:",
        "  - name: m",
        "    provider: mock",
        "    mock: { delay: 0ms, first_token_delay: 0s }",
        "    timeouts: { idle: 0s }",
        "models:",
        "  - name: llama",
        "    targets: [{ backend: m }]",
        "timeouts: { total: 0ms }",
        "server: { drain_timeout: 0s }",
      ]),
    ).toEqual([
      'llmproxy.yaml:5:23: backends[0].timeouts.idle: must be longer than 0, got "0s"',
      'llmproxy.yaml:9:20: timeouts.total: must be longer than 0, got "0ms"',
      'llmproxy.yaml:10:26: server.drain_timeout: must be longer than 0, got "0s"',
    ]);
  });

  test("a weighted route whose targets all weigh 0", async () => {
    expect(await errorsOf([...BACKENDS, "models:", "  - name: llama", "    strategy: weighted", "    targets: [{ backend: vllm-a, weight: 0 }]"])).toEqual([
      "llmproxy.yaml:11:14: models[0].targets: every target has weight 0, so the weighted strategy can pick none",
    ]);
  });

  test("metrics.path must not hide an endpoint of the gateway", async () => {
    expect(await errorsOf([...BACKENDS, ...MODELS, "metrics: { path: /v1/metrics }"])).toEqual([
      'llmproxy.yaml:11:18: metrics.path: "/v1/metrics" is one of the gateway\'s own endpoints; pick another path',
    ]);
  });

  test("a header name must be an HTTP token and its value one line", async () => {
    expect(await errorsOf(["backends:", "  - name: m", "    provider: mock", "    headers:", '      "x bad": v', '      x-ok: "a\\r\\nb"', ...MODELS.slice(0, 2), "    targets: [{ backend: m }]"])).toEqual([
      'llmproxy.yaml:5:7: backends[0].headers["x bad"]: bad header name "x bad": use letters, digits and - (an HTTP token)',
      "llmproxy.yaml:6:13: backends[0].headers.x-ok: a header value must not contain line breaks",
    ]);
  });
});

test("several errors at once are all reported, in file order", async () => {
  expect(
    await errorsOf([
      "listn: 127.0.0.1:8080",
      "backends:",
      "  - name: vllm-a",
      "    url: localhost:8000",
      "    provider: openai",
      "  - name: vllm-a",
      "    provider: mock",
      "models:",
      "  - name: llama",
      "    strategy: fastest",
      "    targets: [{ backend: vllm-c }]",
      "    fallback: [llama]",
      "timeouts: { connect: 5 sec }",
      "admin_token: ${NOPE}",
    ]),
  ).toEqual([
    'llmproxy.yaml:1:1: unknown key "listn" (did you mean "listen"?)',
    'llmproxy.yaml:4:10: backends[0].url: must be an http(s) URL, got "localhost:8000"',
    'llmproxy.yaml:6:11: backends[1].name: duplicate backend name "vllm-a" (also backends[0])',
    'llmproxy.yaml:10:15: models[0].strategy: must be one of round_robin, weighted, least_inflight, latency, priority; got "fastest"',
    'llmproxy.yaml:11:26: models[0].targets[0].backend: unknown backend "vllm-c" (backends are: vllm-a)',
    "llmproxy.yaml:12:16: models[0].fallback[0]: a model cannot fall back to itself",
    'llmproxy.yaml:13:22: timeouts.connect: bad duration "5 sec": use a number and a unit (ms, s, m, h, d), e.g. 500ms or 5s',
    "llmproxy.yaml:14:14: admin_token: environment variable NOPE is not set (use ${NOPE:-default} for a default)",
  ]);
});
