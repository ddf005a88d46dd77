import { expect, test } from "bun:test";
import client from "prom-client";
import { counterChild, histogramChild } from "../../src/metrics/fast-child.ts";

test("pre-bound children add to the same series prom-client renders", async () => {
  const registry = new client.Registry();
  const c = new client.Counter({ name: "t_total", help: "h", labelNames: ["a"] as const, registers: [registry] });
  const h = new client.Histogram({ name: "t_seconds", help: "h", labelNames: ["a"] as const, buckets: [0.1, 1], registers: [registry] });
  const c1 = counterChild(c, { a: "x" });
  c1.inc();
  c1.inc(4);
  c.inc({ a: "x" }, 2); // the slow path still adds to the same series
  const h1 = histogramChild(h, { a: "x" });
  h1.observe(0.05);
  h1.observe(0.5);
  h1.observe(5);
  // a second child of an existing series must not reset it
  histogramChild(h, { a: "x" }).observe(0.05);
  counterChild(c, { a: "x" }).inc();
  const text = await registry.metrics();
  expect(text).toContain('t_total{a="x"} 8');
  expect(text).toContain('t_seconds_bucket{le="0.1",a="x"} 2');
  expect(text).toContain('t_seconds_bucket{le="1",a="x"} 3');
  expect(text).toContain('t_seconds_bucket{le="+Inf",a="x"} 4');
  expect(text).toContain('t_seconds_sum{a="x"} 5.6');
  expect(text).toContain('t_seconds_count{a="x"} 4');
});

import { accessFields, accessMembers } from "../../src/metering/recorder.ts";
import type { UsageResult } from "../../src/metering/usage.ts";

test("the hand-written access-log members are exactly the access fields as JSON", () => {
  const base: UsageResult = {
    requestId: "abc-1",
    startedAt: 0,
    keyId: "key_abcdefghijklmnop",
    endpoint: "/v1/chat/completions",
    requestedModel: 'we"ird\\model\n',
    route: "*",
    backend: "vllm-a",
    upstreamModel: "org/model",
    stream: true,
    promptTokens: 12,
    completionTokens: 16,
    cachedTokens: 4,
    cacheWriteTokens: 0,
    totalTokens: 28,
    source: "backend",
    status: 200,
    errorCode: null,
    ttftMs: 0.81234,
    latencyMs: 12.3456789,
    retries: 1,
    bytesIn: 120,
    bytesOut: 400,
    clientIp: "::1",
    traceparent: null,
  };
  for (const u of [base, { ...base, keyId: null, errorCode: "upstream_idle_timeout", ttftMs: null, traceparent: '00-"x"-01', source: "estimate" as const }]) {
    expect(JSON.parse(`{${accessMembers(u)}}`)).toEqual(JSON.parse(JSON.stringify(accessFields(u))));
  }
});
