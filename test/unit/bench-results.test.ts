// The benchmark's pure parts: the plan a set of flags makes, the JSON built from
// measurements (differences, ratios, null for what has no samples), the table, the
// proxy's config, and how a target's error answer is shown.

import { describe, expect, test } from "bun:test";
import type { StreamsResult } from "../../src/bench/load.ts";
import type { Measurement } from "../../src/bench/measure.ts";
import { chatPath, makePlan } from "../../src/bench/plan.ts";
import { benchProxyConfig, STRATEGIES } from "../../src/bench/proxy-config.ts";
import { type BenchSetup, benchResult } from "../../src/bench/results.ts";
import { summarize } from "../../src/bench/stats.ts";
import { benchTable, ROW_LABELS } from "../../src/bench/table.ts";
import { errorMessageOf, redact } from "../../src/bench/target-check.ts";
import { loadConfigText } from "../../src/config/load.ts";

const plan = makePlan({ durationMs: 5000, concurrency: 64, rate: 2000, streams: 64, openStreams: 1000, model: "bench" });

function streamsOf(ttft: number[], gaps: number[], errors = 0): StreamsResult {
  return { streams: ttft.length + errors, completed: ttft.length, errors, ttftMs: summarize(ttft), gapMs: summarize(gaps), bytes: 1000 * ttft.length };
}

function measurement(name: string, k: number, resources: Measurement["resources"] = null): Measurement {
  return {
    name,
    throughput: { requests: 1000 / k, errors: 0, seconds: 1, rps: 1000 / k, latencyMs: summarize([k]) },
    latency: { offeredRps: 2000, sent: 4, errors: 0, latencyMs: summarize([1 * k, 1 * k, 2 * k, 3 * k]) },
    streams: streamsOf([0.5 * k, 1 * k], [5 * k, 6 * k]),
    burst: streamsOf([2 * k, 4 * k], [5, 5]),
    open: streamsOf(Array.from({ length: 1000 }, (_, i) => (i < 990 ? 1 : 10) * k), [25]),
    resources,
  };
}

const localSetup: BenchSetup = {
  mode: "local",
  proxyUrl: "http://127.0.0.1:2",
  directUrl: "http://127.0.0.1:1",
  pid: 42,
  description: "llmproxy serve (pid 42) in front of 1 llmproxy mock",
  executable: "dist/llmproxy",
  model: "bench",
  backends: 1,
  strategy: "round_robin",
  keys: 0,
  webhook: true,
};

const MB = 1048576;
const resources = { cpuPerRequestUs: 50, rssBytes: { idle: 30 * MB, afterWarmup: 40 * MB, openStreams: 60 * MB, peak: 70 * MB } };

describe("the plan", () => {
  test("phases sized from the flags and bounded by the duration", () => {
    expect(plan.throughput).toEqual({ concurrency: 64, durationMs: 5000, maxRequests: 50_000 * 5 * 64 });
    expect(plan.latency).toEqual({ rps: 2000, durationMs: 5000 });
    expect(plan.streams).toMatchObject({ concurrency: 64, durationMs: 5000, spreadMs: 100, tokens: 16, tokenGapMs: 5, headers: { "x-mock-tokens": "16", "x-mock-delay-ms": "5" } });
    expect(plan.burst).toMatchObject({ concurrency: 64, rounds: 10, spreadMs: 0 });
    expect(plan.open).toMatchObject({ concurrency: 1000, rounds: 1, tokens: 40, tokenGapMs: 25 });
    const short = makePlan({ durationMs: 200, concurrency: 8, rate: 300, streams: 4, openStreams: 200, model: "m" });
    expect(short.burst.rounds).toBe(2);
    expect(short.open.tokenGapMs).toBe(5);
    expect(short.warmup.durationMs).toBe(200);
    expect(JSON.parse(short.chatBody)).toMatchObject({ model: "m", max_tokens: 16 });
    expect(JSON.parse(short.streamBody)).toMatchObject({ model: "m", stream: true });
  });

  test("the chat path under a base URL, with or without /v1", () => {
    expect(chatPath("http://127.0.0.1:8080")).toBe("/v1/chat/completions");
    expect(chatPath("http://127.0.0.1:8080/v1")).toBe("/v1/chat/completions");
    expect(chatPath("https://gw.example.com/llm/v1/")).toBe("/llm/v1/chat/completions");
    expect(chatPath("https://gw.example.com/llm")).toBe("/llm/v1/chat/completions");
  });
});

describe("the results", () => {
  test("direct and through the proxy, with what the proxy adds", () => {
    const r = benchResult(localSetup, plan, measurement("direct", 1), measurement("llmproxy", 2, resources));
    expect(r.setup).toEqual({ ...localSetup, durationMs: 5000 });
    expect(r.throughput).toEqual({ concurrency: 64, direct: { rps: 1000, requests: 1000, errors: 0 }, proxy: { rps: 500, requests: 500, errors: 0 }, ratio: 0.5 });
    expect(r.latency).toMatchObject({ rate: 2000, direct: { p50Ms: 1, p99Ms: 3, requests: 4 }, proxy: { p50Ms: 2, p99Ms: 6 }, addedP50Ms: 1, addedP99Ms: 3 });
    expect(r.streams).toMatchObject({ clients: 64, addedTtftP50Ms: 0.5, addedTtftP99Ms: 1, addedGapP99Ms: 6 });
    expect(r.burst).toMatchObject({ clients: 64, addedTtftP50Ms: 2, addedTtftP99Ms: 4 });
    expect(r.openStreams).toEqual({
      streams: 1000,
      tokens: 40,
      tokenGapMs: 25,
      direct: { completed: 1000, errors: 0, ttftP99Ms: 1 },
      proxy: { completed: 1000, errors: 0, ttftP99Ms: 2 },
      ttftP99Ratio: 2,
    });
    expect(r.resources).toEqual({ cpuPerRequestUs: 50, rssMB: { idle: 30, afterWarmup: 40, openStreams: 60, peak: 70 } });
    expect(r.errors).toBe(0);
  });

  test("no direct side: nulls where a comparison needs it; no samples: null, never NaN", () => {
    const proxy = measurement("target", 2);
    proxy.latency = { offeredRps: 2000, sent: 4, errors: 4, latencyMs: summarize([]) };
    const r = benchResult({ ...localSetup, mode: "target", directUrl: null, pid: null }, plan, null, proxy);
    expect(r.throughput.direct).toBeNull();
    expect(r.throughput.ratio).toBeNull();
    expect(r.latency.proxy).toEqual({ p50Ms: null, p99Ms: null, requests: 0, errors: 4 });
    expect(r.latency.addedP99Ms).toBeNull();
    expect(r.openStreams.ttftP99Ratio).toBeNull();
    expect(r.resources).toBeNull();
    expect(r.errors).toBe(4);
    expect(JSON.stringify(r)).not.toContain("NaN");
  });
});

describe("the table", () => {
  test("a row for every number, the cost column, one heading line", () => {
    const lines = benchTable(benchResult(localSetup, plan, measurement("direct", 1), measurement("llmproxy", 2, resources)));
    expect(lines[0]).toBe("llmproxy bench: llmproxy serve (pid 42) in front of 1 llmproxy mock; 5 s per phase");
    const text = lines.join("\n");
    const labels = [
      ROW_LABELS.throughput(64),
      ROW_LABELS.latencyP50(2000),
      ROW_LABELS.latencyP99(2000),
      ROW_LABELS.ttftP50(64),
      ROW_LABELS.ttftP99(64),
      ROW_LABELS.gapP99(5),
      ROW_LABELS.burstP50(64),
      ROW_LABELS.burstP99(64),
      ROW_LABELS.openComplete(1000),
      ROW_LABELS.openTtftP99(1000),
      ROW_LABELS.cpu,
      ROW_LABELS.rssIdle,
      ROW_LABELS.rssWarm,
      ROW_LABELS.rssOpen(1000),
      ROW_LABELS.rssPeak,
    ];
    for (const l of labels) expect(lines.some((line) => line.startsWith(l))).toBe(true);
    expect(text).toMatch(/requests\/s, 64 connections \(closed loop\) +1000 +500 +50\.0% of direct/);
    expect(text).toMatch(/latency p99 at 2000 req\/s \(open loop\) +3\.000 ms +6\.000 ms +\+3\.000 ms/);
    expect(text).toMatch(/1000 open streams: completed +1000\/1000 +1000\/1000/);
    expect(text).toMatch(/TTFT p99, 1000 open streams +1\.000 ms +2\.000 ms +2\.00× direct/);
    expect(text).toMatch(/proxy CPU per plain request +50\.0 µs/);
    expect(text).not.toContain("failed");
  });

  test("a target without --direct or --pid says what is missing and how to get it", () => {
    const r = benchResult({ ...localSetup, mode: "target", directUrl: null, pid: null, description: "target http://gw:8080" }, plan, null, measurement("target", 2));
    const lines = benchTable(r);
    expect(lines[2]).toMatch(/^metric +direct +target +proxy cost$/);
    expect(lines.find((l) => l.startsWith(ROW_LABELS.throughput(64)))).toMatch(/ +- +500$/);
    expect(lines).toContain("No direct column: pass --direct URL (the backend behind the target) to measure it too.");
    expect(lines).toContain("No CPU or memory figures: pass --pid PID (the target's process, on this machine) to read them.");
    expect(lines.some((l) => l.startsWith(ROW_LABELS.cpu))).toBe(false);
  });

  test("failed requests are counted under the table", () => {
    const proxy = measurement("llmproxy", 2, resources);
    proxy.open = streamsOf([1, 2], [25], 998);
    const lines = benchTable(benchResult(localSetup, plan, measurement("direct", 1), proxy));
    expect(lines.join("\n")).toMatch(/1000 open streams: completed +1000\/1000 +2\/1000/);
    expect(lines[lines.length - 1]).toBe("998 requests failed; the numbers above leave them out.");
  });
});

describe("the proxy's config", () => {
  test("valid for every mode bench runs it in", () => {
    const variants = [
      { database: "/tmp/x/usage.db", webhookUrl: "http://127.0.0.1:9/usage", backends: ["http://127.0.0.1:1"], strategy: "round_robin" as const, keys: false },
      { database: "/tmp/x/usage.db", webhookUrl: null, backends: ["http://127.0.0.1:1", "http://127.0.0.1:2"], strategy: "least_inflight" as const, keys: true },
      ...STRATEGIES.map((strategy) => ({ database: "/tmp/x/usage.db", webhookUrl: null, backends: ["http://127.0.0.1:1"], strategy, keys: false })),
    ];
    for (const v of variants) {
      const r = loadConfigText(benchProxyConfig(v), "bench.yaml", {});
      if (!r.ok) throw new Error(r.issues.map((i) => `${i.line}:${i.col}: ${i.path}: ${i.message}`).join("\n"));
      const c = r.loaded.config;
      expect(c.listen).toEqual({ host: "127.0.0.1", port: 0 });
      expect(c.backends.length).toBe(v.backends.length);
      expect(c.metering.webhook?.url ?? null).toBe(v.webhookUrl);
      expect(c.auth).toBe(v.keys ? "keys" : "none");
    }
  });
});

describe("a target's error answer", () => {
  test("the message of an OpenAI-style error, else the text, cut short", () => {
    expect(errorMessageOf('{"error":{"message":"Invalid API key.","type":"invalid_request_error","code":"invalid_api_key"}}')).toBe("Invalid API key. (invalid_api_key)");
    expect(errorMessageOf('{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}')).toBe("invalid x-api-key");
    expect(errorMessageOf('{"error":"model not found"}')).toBe("model not found");
    expect(errorMessageOf("<html>\n<body>Bad Gateway</body>\n</html>")).toBe("<html> <body>Bad Gateway</body> </html>");
    expect(errorMessageOf("")).toBe("(empty body)");
    expect(errorMessageOf("x".repeat(1000))).toHaveLength(303);
  });

  test("a key echoed back by the target is never shown", () => {
    expect(redact("Incorrect API key provided: sk-abc123456. Find yours at ...", ["sk-abc123456"])).toBe("Incorrect API key provided: [redacted]. Find yours at ...");
  });
});
