// `llmproxy serve -c FILE` as a real process: ${VAR} interpolation from its environment,
// and every way it refuses to start, each with its exit code and a message that tells
// the operator what to fix. With LLMPROXY_BIN set, this runs against the compiled
// executable.

import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { mockCompletionText } from "../../src/mock/text.ts";
import { runCli, startDemo, tempDir } from "../helpers/daemon.ts";
import { startProxy } from "../helpers/proxy.ts";
import { underNode } from "../helpers/spawn.ts";

const dir = tempDir("serve");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** No line of stderr looks like a stack frame. */
function expectNoStack(stderr: string): void {
  expect(stderr).not.toMatch(/^\s+at /m);
}

describe("${VAR} interpolation from the daemon's environment", () => {
  test("${VAR} takes the variable's value and ${VAR:-default} its default when unset", async () => {
    const proxy = await startProxy({
      config: `
admin_token: \${LLMPROXY_E2E_ADMIN}
backends:
  - name: m
    provider: mock
    mock: { tokens: \${LLMPROXY_E2E_TOKENS:-3}, delay: 0ms }
models:
  - name: \${LLMPROXY_E2E_MODEL}
    targets: [{ backend: m }]
`,
      env: { LLMPROXY_E2E_ADMIN: "s3cret-admin", LLMPROXY_E2E_MODEL: "from-env" },
    });
    try {
      const models = (await (await fetch(`${proxy.url}/v1/models`)).json()) as { data: { id: string }[] };
      expect(models.data.map((m) => m.id)).toEqual(["from-env"]);
      const res = await fetch(`${proxy.url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: "from-env", messages: [{ role: "user", content: "hi" }] }),
      });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { choices: { message: { content: string } }[] };
      // the default, 3 tokens, and a number, not the string "3"
      expect(body.choices[0]!.message.content).toBe(mockCompletionText(3));
      // the admin token came from the environment too
      const admin = await fetch(`${proxy.url}/admin/config`, { headers: { authorization: "Bearer s3cret-admin" } });
      expect(admin.status).toBe(200);
    } finally {
      expect(await proxy.stop()).toBe(0);
    }
  });

  test("a missing variable refuses to start, naming the variable and its file:line:col (exit 1)", async () => {
    const path = file(
      "missing-var.yaml",
      `listen: 127.0.0.1:0
backends:
  - name: m
    provider: mock
    api_key: \${LLMPROXY_E2E_SURELY_UNSET}
models:
  - name: x
    targets: [{ backend: m }]
`,
    );
    const r = await runCli(["serve", "-c", path], { env: { LLMPROXY_E2E_SURELY_UNSET: undefined } });
    expect(r.code).toBe(1);
    expect(r.stderr).toStartWith("llmproxy: ");
    expect(r.stderr).toContain(`${path}:5:14: backends[0].api_key: environment variable LLMPROXY_E2E_SURELY_UNSET is not set`);
    expectNoStack(r.stderr);
  });
});

describe("serve refuses to start", () => {
  test("an invalid config: every error as file:line:col: path: message (exit 1)", async () => {
    const path = file(
      "invalid.yaml",
      `listen: 127.0.0.1:0
bogus: 1
backends:
  - name: m
    provider: openai
    url: localhost:80
models:
  - name: x
    targets: [{ backend: zz }]
`,
    );
    const r = await runCli(["serve", "-c", path]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    const lines = r.stderr.split("\n").filter((l) => l !== "");
    expect(lines[0]).toStartWith("llmproxy: ");
    expect(lines.slice(1)).toEqual([
      `${path}:2:1: unknown key "bogus" (known keys: listen, database, auth, limits, admin_token, server, backends, models, retries, timeouts, metering, metrics, log)`,
      `${path}:6:10: backends[0].url: must be an http(s) URL, got "localhost:80"`,
      `${path}:9:26: models[0].targets[0].backend: unknown backend "zz" (backends are: m)`,
    ]);
  });

  test("a missing config file: exit 2, naming the file", async () => {
    const path = join(dir, "does-not-exist.yaml");
    const r = await runCli(["serve", "-c", path]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`llmproxy: cannot read ${path}: no such file\n`);
  });

  test("a config path that is a directory: exit 2, naming it", async () => {
    const sub = join(dir, "a-directory.yaml");
    mkdirSync(sub, { recursive: true });
    const r = await runCli(["serve", "-c", sub]);
    expect(r.code).toBe(2);
    expect(r.stderr).toStartWith(`llmproxy: cannot read ${sub}: `);
  });

  test("no -c in a directory without llmproxy.yaml: exit 2 with a hint", async () => {
    const empty = tempDir("noconfig");
    try {
      const r = await runCli(["serve"], { cwd: empty });
      expect(r.code).toBe(2);
      expect(r.stderr).toStartWith("llmproxy: ");
      expect(r.stderr).toContain("llmproxy.yaml");
      // the hint: the ways to give it a config
      expect(r.stderr).toContain("-c FILE");
      expect(r.stderr).toContain("--demo");
      expectNoStack(r.stderr);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  test("LLMPROXY_CONFIG naming a missing file: exit 2, naming it", async () => {
    const path = join(dir, "env-named-missing.yaml");
    const r = await runCli(["serve"], { env: { LLMPROXY_CONFIG: path } });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`llmproxy: cannot read ${path}: no such file\n`);
  });

  test("--demo with -c: exit 2", async () => {
    const path = file("demo-and-c.yaml", "backends: []\n");
    const r = await runCli(["serve", "--demo", "-c", path]);
    expect(r.code).toBe(2);
    expect(r.stderr).toStartWith("llmproxy: ");
    expect(r.stderr).toContain("--demo");
  });

  test("a port in use: exit 1, naming the address", async () => {
    const squatter = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("taken") });
    try {
      const address = `127.0.0.1:${squatter.port}`;
      const path = file(
        "port-in-use.yaml",
        `listen: ${address}
backends: [{ name: m, provider: mock }]
models: [{ name: x, targets: [{ backend: m }] }]
`,
      );
      const r = await runCli(["serve", "-c", path]);
      expect(r.code).toBe(1);
      expect(r.stderr).toStartWith("llmproxy: ");
      expect(r.stderr).toContain(address);
      expect(r.stderr).toContain("in use");
      expectNoStack(r.stderr);

      // and the same through --listen, for the demo
      const demo = await runCli(["serve", "--demo", "--listen", address]);
      expect(demo.code).toBe(1);
      expect(demo.stderr).toContain(address);
      expect(demo.stderr).toContain("in use");
    } finally {
      await squatter.stop(true);
    }
  });

  test("a port held by another llmproxy: the second one exits 1 instead of sharing the port", async () => {
    // a daemon's socket must not allow SO_REUSEPORT (Bun turns it on for production
    // servers), or a second daemon would start and take half of the traffic
    const first = await startProxy({ config: "backends: [{ name: m, provider: mock }]\nmodels: [{ name: x, targets: [{ backend: m }] }]\n" });
    try {
      const address = first.url.replace("http://", "");
      const second = await runCli(["serve", "--demo", "--listen", address]);
      expect(second.code).toBe(1);
      expect(second.stderr).toContain(address);
      expect(second.stderr).toContain("in use");
    } finally {
      await first.stop();
    }
  });

  test("a bad --listen: exit 1 (an invalid value), naming the value", async () => {
    const r = await runCli(["serve", "--demo", "--listen", "nonsense"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toStartWith("llmproxy: --listen: ");
    expect(r.stderr).toContain('"nonsense"');
  });
});

/** The environment a running process has now (after any execve), from /proc (Linux). */
function environOf(pid: number): Record<string, string> {
  const pairs = readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").filter((p) => p.includes("="));
  return Object.fromEntries(pairs.map((p) => [p.slice(0, p.indexOf("=")), p.slice(p.indexOf("=") + 1)]));
}

describe("start-up settings of the runtime (Bun re-executes itself once, same PID)", () => {
  const bunOnly = !underNode();

  test("the daemon runs with the fetch cap lifted and JavaScriptCore's heap floor lowered", async () => {
    const demo = await startDemo({ env: { BUN_CONFIG_MAX_HTTP_REQUESTS: undefined, BUN_JSC_largeHeapSize: undefined } });
    try {
      const env = environOf(demo.proc.pid);
      if (bunOnly) {
        expect(env.BUN_CONFIG_MAX_HTTP_REQUESTS).toBe("65535");
        expect(env.BUN_JSC_largeHeapSize).toBe(String(4 * 1024 * 1024));
      } else {
        // Node has neither limit: nothing to set, no re-exec
        expect(env.BUN_CONFIG_MAX_HTTP_REQUESTS).toBeUndefined();
        expect(env.BUN_JSC_largeHeapSize).toBeUndefined();
      }
      expect((await fetch(`${demo.url}/health`)).status).toBe(200);
    } finally {
      expect(await demo.stop()).toBe(0);
    }
  });

  test("an operator's own value is kept", async () => {
    const demo = await startDemo({ env: { BUN_CONFIG_MAX_HTTP_REQUESTS: undefined, BUN_JSC_largeHeapSize: "16777216" } });
    try {
      const env = environOf(demo.proc.pid);
      expect(env.BUN_JSC_largeHeapSize).toBe("16777216");
      if (bunOnly) expect(env.BUN_CONFIG_MAX_HTTP_REQUESTS).toBe("65535");
    } finally {
      expect(await demo.stop()).toBe(0);
    }
  });
});
