// Hot reload of the running daemon, on a real process and a real config file: an edit in
// place, a save by rename (as vim does), SIGHUP and POST /admin/reload all reload; an
// invalid edit leaves the running config in force; restart-only settings are named and
// not applied; the metrics count every attempt; a stream in flight finishes on the
// config it started with. Every wait is on a log line, a response or a stream read.
// With LLMPROXY_BIN set, this runs against the compiled executable.

import { describe, expect, test } from "bun:test";
import pkg from "../../package.json" with { type: "json" };
import { mockCompletionText } from "../../src/mock/text.ts";
import { chatText, metricValue, readSse, saveByRename, saveInPlace } from "../helpers/daemon.ts";
import { startProxy, type LogLine, type ProxyProcess } from "../helpers/proxy.ts";
import { runtimeUnderTest } from "../helpers/spawn.ts";

const ADMIN = "admin-token-for-tests";

/** A config of in-process mock backends; `routes` maps each model name to its backend. */
function yaml(routes: Record<string, string>, extra = ""): string {
  const backends = [...new Set(Object.values(routes))];
  return `listen: 127.0.0.1:0
auth: none
admin_token: ${ADMIN}
server: { drain_timeout: 5s, backend_header: true }
backends:
${backends.map((b) => `  - { name: ${b}, provider: mock, mock: { tokens: 3, delay: 0ms } }`).join("\n")}
models:
${Object.entries(routes)
  .map(([m, b]) => `  - { name: ${m}, targets: [{ backend: ${b} }] }`)
  .join("\n")}
${extra}`;
}

async function withProxy(config: string, body: (p: ProxyProcess) => Promise<void>): Promise<void> {
  const p = await startProxy({ config });
  try {
    await body(p);
  } finally {
    expect(await p.stop()).toBe(0);
  }
}

const isReloaded = (l: LogLine) => l.msg === "config reloaded";
const isUnchanged = (l: LogLine) => l.msg === "config unchanged, nothing to reload";
const isFailed = (l: LogLine) => l.msg === "config reload failed; the running config stays in force";

async function modelIds(p: ProxyProcess): Promise<string[]> {
  const res = await fetch(`${p.url}/v1/models`);
  expect(res.status).toBe(200);
  const body = (await res.json()) as { data: { id: string }[] };
  return body.data.map((m) => m.id).sort();
}

function chat(p: ProxyProcess, model: string, headers: Record<string, string> = {}, stream = false): Promise<Response> {
  return fetch(`${p.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ model, messages: [{ role: "user", content: "hi" }], stream }),
  });
}

/** A non-streamed chat that must succeed; returns the backend that served it. */
async function chatOk(p: ProxyProcess, model: string): Promise<string | null> {
  const res = await chat(p, model);
  const text = await res.text();
  expect({ model, status: res.status, body: res.status === 200 ? "" : text }).toEqual({ model, status: 200, body: "" });
  expect((JSON.parse(text) as { choices: { message: { content: string } }[] }).choices[0]!.message.content).toBe(mockCompletionText(3));
  return res.headers.get("x-llmproxy-backend");
}

async function errorCode(res: Response): Promise<string> {
  return ((await res.json()) as { error: { code: string } }).error.code;
}

function adminReload(p: ProxyProcess, token: string | null = ADMIN): Promise<Response> {
  return fetch(`${p.url}/admin/reload`, { method: "POST", headers: token === null ? {} : { authorization: `Bearer ${token}` } });
}

async function runningHash(p: ProxyProcess): Promise<string> {
  const res = await fetch(`${p.url}/admin/config`, { headers: { authorization: `Bearer ${ADMIN}` } });
  expect(res.status).toBe(200);
  return ((await res.json()) as { hash: string }).hash;
}

async function metricsText(p: ProxyProcess): Promise<string> {
  const res = await fetch(`${p.url}/metrics`);
  expect(res.status).toBe(200);
  return await res.text();
}

describe("a config file change takes effect", () => {
  test("an edit in place that adds a model: it shows in /v1/models and a request to it succeeds", async () => {
    await withProxy(yaml({ alpha: "a" }), async (p) => {
      expect(await modelIds(p)).toEqual(["alpha"]);
      const reloaded = p.nextLog(isReloaded, "config reloaded");
      saveInPlace(p.configPath, yaml({ alpha: "a", beta: "b" }));
      expect((await reloaded).trigger).toStartWith("file ");
      expect(await modelIds(p)).toEqual(["alpha", "beta"]);
      expect(await chatOk(p, "beta")).toBe("b");
      expect(await chatOk(p, "alpha")).toBe("a");
    });
  });

  test("a save by rename (temp file + rename over the config, as vim does) takes effect, again and again", async () => {
    await withProxy(yaml({ alpha: "a" }), async (p) => {
      // the first rename replaces the watched file's inode; the later ones prove the
      // watch followed the name, not the old inode
      for (const name of ["gamma", "delta", "epsilon"]) {
        const reloaded = p.nextLog(isReloaded, `config reloaded (${name})`);
        saveByRename(p.configPath, yaml({ [name]: "a" }));
        await reloaded;
        expect(await modelIds(p)).toEqual([name]);
        expect(await chatOk(p, name)).toBe("a");
      }
      const gone = await chat(p, "alpha");
      expect(gone.status).toBe(404);
      expect(await errorCode(gone)).toBe("model_not_found");
    });
  });

  test("a route renamed in place: the old name is gone, the new one serves", async () => {
    await withProxy(yaml({ alpha: "a" }), async (p) => {
      const reloaded = p.nextLog(isReloaded, "config reloaded");
      saveInPlace(p.configPath, yaml({ renamed: "a" }));
      await reloaded;
      expect(await modelIds(p)).toEqual(["renamed"]);
      expect(await chatOk(p, "renamed")).toBe("a");
      expect((await chat(p, "alpha")).status).toBe(404);
    });
  });

  test("a save that changes nothing (a comment added) logs 'config unchanged' and counts as unchanged", async () => {
    await withProxy(yaml({ alpha: "a" }), async (p) => {
      const before = metricValue(await metricsText(p), "llmproxy_config_reloads_total", { result: "unchanged" });
      const hash = await runningHash(p);
      const unchanged = p.nextLog(isUnchanged, "config unchanged");
      saveInPlace(p.configPath, `# a comment changes nothing\n${yaml({ alpha: "a" })}`);
      expect((await unchanged).trigger).toStartWith("file ");
      expect(p.logs.some(isReloaded)).toBe(false);
      expect(await runningHash(p)).toBe(hash);
      expect(metricValue(await metricsText(p), "llmproxy_config_reloads_total", { result: "unchanged" })).toBe(before + 1);
    });
  });
});

describe("SIGHUP", () => {
  test("reloads: with no change it logs 'config unchanged' (trigger SIGHUP)", async () => {
    await withProxy(yaml({ alpha: "a" }), async (p) => {
      const unchanged = p.nextLog((l) => isUnchanged(l) && l.trigger === "SIGHUP", "config unchanged after SIGHUP");
      p.signal("SIGHUP");
      await unchanged;
      expect(await chatOk(p, "alpha")).toBe("a");
    });
  });

  test("reloads a changed file, and the daemon keeps running", async () => {
    await withProxy(yaml({ alpha: "a" }), async (p) => {
      saveInPlace(p.configPath, yaml({ alpha: "a", beta: "b" }));
      // The watcher may see the save first; either way SIGHUP leads to one more reload
      // attempt that logs with trigger SIGHUP, and by then the new config is in force.
      const hup = p.nextLog((l) => (isReloaded(l) || isUnchanged(l)) && l.trigger === "SIGHUP", "a reload with trigger SIGHUP");
      p.signal("SIGHUP");
      await hup;
      expect(await modelIds(p)).toEqual(["alpha", "beta"]);
      expect(await chatOk(p, "beta")).toBe("b");
      expect(p.proc.exitCode).toBe(null);
    });
  });
});

describe("POST /admin/reload", () => {
  test("with the admin token: 200 {result, config, restart_required}; config is the running hash", async () => {
    await withProxy(yaml({ alpha: "a" }), async (p) => {
      const res = await adminReload(p);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toContain("application/json");
      const body = (await res.json()) as Record<string, unknown>;
      expect(body).toEqual({ result: "unchanged", config: await runningHash(p), restart_required: [] });
      await p.waitForLog((l) => isUnchanged(l) && l.trigger === "admin API", "config unchanged by the admin API");
    });
  });

  test("after an edit, it answers the new config's hash and the new config serves", async () => {
    await withProxy(yaml({ alpha: "a" }), async (p) => {
      const old = await runningHash(p);
      saveInPlace(p.configPath, yaml({ alpha: "a", beta: "b" }));
      const res = await adminReload(p);
      expect(res.status).toBe(200);
      const body = (await res.json()) as { result: string; config: string; restart_required: string[] };
      // the watcher may have reloaded the save already: then this one finds it unchanged
      expect(["success", "unchanged"]).toContain(body.result);
      expect(body.config).not.toBe(old);
      expect(body.config).toBe(await runningHash(p));
      expect(body.restart_required).toEqual([]);
      expect(await chatOk(p, "beta")).toBe("b");
    });
  });

  test("a wrong or missing token: 401 admin_unauthorized, and nothing is reloaded", async () => {
    await withProxy(yaml({ alpha: "a" }), async (p) => {
      for (const token of [null, "wrong-token", `${ADMIN}x`, ""]) {
        const res = await adminReload(p, token);
        expect({ token, status: res.status }).toEqual({ token, status: 401 });
        expect(await errorCode(res)).toBe("admin_unauthorized");
      }
      const noScheme = await fetch(`${p.url}/admin/reload`, { method: "POST", headers: { authorization: ADMIN } });
      expect(noScheme.status).toBe(401);
      expect(p.logs.some((l) => l.trigger === "admin API")).toBe(false);
    });
  });

  test("a config without admin_token: 404 admin_disabled on /admin/reload and /admin/config", async () => {
    await withProxy(yaml({ alpha: "a" }).replace(/^admin_token: .*$/m, ""), async (p) => {
      for (const token of [null, ADMIN]) {
        const res = await adminReload(p, token);
        expect(res.status).toBe(404);
        expect(await errorCode(res)).toBe("admin_disabled");
      }
      const cfg = await fetch(`${p.url}/admin/config`, { headers: { authorization: `Bearer ${ADMIN}` } });
      expect(cfg.status).toBe(404);
      expect(await errorCode(cfg)).toBe("admin_disabled");
    });
  });

  test("a new admin_token takes effect with the reload that brings it", async () => {
    await withProxy(yaml({ alpha: "a" }), async (p) => {
      const reloaded = p.nextLog(isReloaded, "config reloaded");
      saveInPlace(p.configPath, yaml({ alpha: "a" }).replace(`admin_token: ${ADMIN}`, "admin_token: the-next-token"));
      await reloaded;
      expect((await adminReload(p, ADMIN)).status).toBe(401);
      expect((await adminReload(p, "the-next-token")).status).toBe(200);
    });
  });
});

describe("an invalid edit", () => {
  const INVALID = (valid: string) =>
    valid.replace("models:", "bogus_key: 1\nmodels:").replace("targets: [{ backend: a }]", "targets: [{ backend: nowhere }]");

  test("is logged with its file:line:col errors, and the old config keeps serving", async () => {
    const valid = yaml({ alpha: "a" });
    await withProxy(valid, async (p) => {
      const hash = await runningHash(p);
      const failed = p.nextLog(isFailed, "config reload failed");
      // by rename: an in-place write could be read while half written (empty), and the
      // errors below are those of the whole invalid file
      saveByRename(p.configPath, INVALID(valid));
      const line = await failed;
      expect(line.level).toBe("error");
      expect(line.errors).toEqual([
        expect.stringMatching(new RegExp(`^${escapeRe(p.configPath)}:\\d+:1: unknown key "bogus_key"`)),
        expect.stringMatching(new RegExp(`^${escapeRe(p.configPath)}:\\d+:\\d+: models\\[0\\]\\.targets\\[0\\]\\.backend: unknown backend "nowhere"`)),
      ]);
      expect(await runningHash(p)).toBe(hash);
      expect(await modelIds(p)).toEqual(["alpha"]);
      expect(await chatOk(p, "alpha")).toBe("a");

      // POST /admin/reload now answers 422 reload_failed with the same errors
      const res = await adminReload(p);
      expect(res.status).toBe(422);
      const body = (await res.json()) as { error: { code: string; message: string; type: string } };
      expect(body.error.code).toBe("reload_failed");
      for (const e of line.errors as string[]) expect(body.error.message).toContain(e);
      expect(await chatOk(p, "alpha")).toBe("a");

      // fixing the file reloads it
      const reloaded = p.nextLog(isReloaded, "config reloaded after the fix");
      saveInPlace(p.configPath, yaml({ alpha: "a", beta: "b" }));
      await reloaded;
      expect(await chatOk(p, "beta")).toBe("b");
    });
  });

  test("a file that is not YAML at all, or an emptied file, leaves the old config serving", async () => {
    const valid = yaml({ alpha: "a" });
    await withProxy(valid, async (p) => {
      for (const broken of ["models: [ {\n", ""]) {
        const failed = p.nextLog(isFailed, `config reload failed for ${JSON.stringify(broken)}`);
        saveInPlace(p.configPath, broken);
        const line = await failed;
        expect((line.errors as string[]).length).toBeGreaterThan(0);
        for (const e of line.errors as string[]) expect(e).toStartWith(p.configPath);
        expect(await chatOk(p, "alpha")).toBe("a");
      }
    });
  });
});

test("a change of listen is logged as needing a restart; the daemon keeps listening where it was", async () => {
  await withProxy(yaml({ alpha: "a" }), async (p) => {
    const warned = p.nextLog((l) => l.level === "warn" && l.setting === "listen", "the listen-needs-restart warning");
    const reloaded = p.nextLog(isReloaded, "config reloaded");
    // port 1 is privileged and unused: the daemon must not even try it
    saveInPlace(p.configPath, yaml({ alpha: "a", beta: "b" }).replace("listen: 127.0.0.1:0", "listen: 127.0.0.1:1"));
    await reloaded;
    const warning = await warned;
    expect(warning.msg).toContain("restart");
    // the rest of the new config is applied, on the old address
    expect(await modelIds(p)).toEqual(["alpha", "beta"]);
    expect(await chatOk(p, "beta")).toBe("b");
  });
});

test("with --listen on the command line, a reload does not claim that listen changed", async () => {
  // The config's listen is never used when --listen is given; reloading must not
  // compare the config's listen against the --listen address.
  const p = await startProxy({ config: yaml({ alpha: "a" }).replace("listen: 127.0.0.1:0", "listen: 127.0.0.1:1"), args: ["--listen", "127.0.0.1:0"] });
  try {
    const reloaded = p.nextLog(isReloaded, "config reloaded");
    saveInPlace(p.configPath, yaml({ alpha: "a", beta: "b" }).replace("listen: 127.0.0.1:0", "listen: 127.0.0.1:1"));
    await reloaded;
    // a restart warning would be logged right after "config reloaded", before any later line
    await chatOk(p, "beta");
    await p.waitForRequests(1);
    expect(p.logs.filter((l) => l.setting === "listen")).toEqual([]);
    const res = await adminReload(p);
    expect(((await res.json()) as { restart_required: string[] }).restart_required).toEqual([]);
  } finally {
    expect(await p.stop()).toBe(0);
  }
});

test("metrics count reloads by result and stamp the last successful one", async () => {
  const valid = yaml({ alpha: "a" });
  await withProxy(valid, async (p) => {
    // Saves by rename: the counts are exact only if no reload reads a half-written file.
    const read = async () => {
      const text = await metricsText(p);
      return {
        success: metricValue(text, "llmproxy_config_reloads_total", { result: "success" }),
        failure: metricValue(text, "llmproxy_config_reloads_total", { result: "failure" }),
        stamp: metricValue(text, "llmproxy_config_last_reload_success_timestamp_seconds"),
        ok: metricValue(text, "llmproxy_config_last_reload_successful"),
        text,
      };
    };
    const m0 = await read();
    expect(m0.text).toContain("# TYPE llmproxy_config_reloads_total counter");
    expect(m0.text).toContain("# TYPE llmproxy_config_last_reload_success_timestamp_seconds gauge");
    // every result's series exists from the start at 0, so the first failure shows in increase()
    expect(m0.text).toContain('llmproxy_config_reloads_total{result="failure"} 0');
    expect(m0.text).toContain(`llmproxy_build_info{version="${pkg.version}",runtime="${runtimeUnderTest()}"} 1`);
    // the start counts as a successful load
    expect(m0.stamp).toBeGreaterThan(0);
    expect(m0.ok).toBe(1);

    let reloaded = p.nextLog(isReloaded, "config reloaded");
    saveByRename(p.configPath, yaml({ alpha: "a", beta: "b" }));
    await reloaded;
    const m1 = await read();
    expect(m1.success).toBe(m0.success + 1);
    expect(m1.failure).toBe(m0.failure);
    expect(m1.stamp).toBeGreaterThanOrEqual(m0.stamp);
    expect(m1.text).toContain(`llmproxy_config_info{hash="${await runningHash(p)}"} 1`);

    const failed = p.nextLog(isFailed, "config reload failed");
    saveByRename(p.configPath, "models: [ {\n");
    await failed;
    const m2 = await read();
    expect(m2.failure).toBe(m1.failure + 1);
    expect(m2.success).toBe(m1.success);
    expect(m2.stamp).toBe(m1.stamp);
    expect(m2.ok).toBe(0);

    reloaded = p.nextLog(isReloaded, "config reloaded");
    saveByRename(p.configPath, yaml({ alpha: "a", gamma: "c" }));
    await reloaded;
    const m3 = await read();
    expect(m3.success).toBe(m2.success + 1);
    expect(m3.failure).toBe(m2.failure);
    expect(m3.stamp).toBeGreaterThanOrEqual(m2.stamp);
    expect(m3.ok).toBe(1);
  });
});

describe("a stream in flight survives a reload", () => {
  const SLOW = { "x-mock-tokens": "30", "x-mock-delay-ms": "30" };

  for (const [what, next] of [
    ["a reload that removes its route and backend", yaml({ other: "b" })],
    ["a reload that moves its route to another backend", yaml({ alpha: "b" })],
  ] as const) {
    test(
      `${what}: the stream ends complete, new requests see the new config`,
      async () => {
        await withProxy(yaml({ alpha: "a" }), async (p) => {
          const res = await chat(p, "alpha", SLOW, true);
          expect(res.status).toBe(200);
          expect(res.headers.get("x-llmproxy-backend")).toBe("a");
          const requestId = res.headers.get("x-request-id")!;
          const sse = readSse(res);
          // the stream is under way before the reload
          expect(await sse.next()).not.toBeNull();

          const reloaded = p.nextLog(isReloaded, "config reloaded");
          saveInPlace(p.configPath, next);
          const line = await reloaded;
          expect(line.in_flight_on_previous).toBe(1);

          // new requests see the new config while the old stream still runs
          if (next.includes("name: alpha")) expect(await chatOk(p, "alpha")).toBe("b");
          else {
            expect((await chat(p, "alpha")).status).toBe(404);
            expect(await chatOk(p, "other")).toBe("b");
          }

          const { data, error } = await sse.rest();
          expect(error).toBe(null);
          const all = sse.data;
          expect(all.at(-1)).toBe("[DONE]");
          expect(chatText(all)).toBe(mockCompletionText(30));
          expect(data.length).toBeGreaterThan(0);
          // the record of the stream: complete, on the backend it started on
          const access = await p.waitForLog((l) => l.msg === "request" && l.request_id === requestId, "the stream's access-log line");
          expect(access).toMatchObject({ status: 200, backend: "a", completion_tokens: 30, stream: true });
        });
      },
      15_000,
    );
  }
});

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
