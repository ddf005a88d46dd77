// Every x-mock-* fault over a real socket, checked at the byte level with plain fetch,
// and the abort path: a client that leaves must stop the generation and be recorded.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { gunzipSync } from "node:zlib";
import OpenAI from "openai";
import { startMockServer, type MockServer } from "../../src/mock/server.ts";
import { mockCompletionText } from "../../src/mock/text.ts";

let server: MockServer;

beforeAll(async () => {
  server = await startMockServer({ tokens: 8, delayMs: 0 });
});

afterAll(async () => {
  await server.stop();
});

const chatBody = (extra: Record<string, unknown> = {}): string => JSON.stringify({ model: "m", messages: [{ role: "user", content: "hi" }], ...extra });

function chat(headers: Record<string, string>, opts: { stream?: boolean; signal?: AbortSignal; path?: string; body?: string } = {}): Promise<Response> {
  const init: RequestInit = {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: opts.body ?? chatBody(opts.stream ? { stream: true } : {}),
  };
  if (opts.signal) init.signal = opts.signal;
  return fetch(`${server.url}${opts.path ?? "/v1/chat/completions"}`, init);
}

/** Reads SSE events (blocks ending in a blank line) until `count` have arrived; leaves the rest unread. */
async function readEvents(res: Response, count: number): Promise<string[]> {
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const dec = new TextDecoder();
  let buf = "";
  for (;;) {
    const events = buf.split("\n\n").slice(0, -1);
    if (events.length >= count) return events;
    const { value, done } = await reader.read();
    if (done) throw new Error(`stream ended after ${events.length} events, wanted ${count}`);
    buf += dec.decode(value, { stream: true });
  }
}

/** Reads a body to its end or its failure: the text that arrived and the error, if any. */
async function readUntilFailure(res: Response): Promise<{ text: string; error: unknown }> {
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const dec = new TextDecoder();
  let text = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return { text, error: null };
      text += dec.decode(value, { stream: true });
    }
  } catch (error) {
    return { text, error };
  }
}

describe("client aborts", () => {
  test("a client that aborts a stream stops the generation; the backend records the abort and the tokens sent", async () => {
    const ac = new AbortController();
    const ended = server.backend.nextEnd((e) => e.aborted);
    const aborted0 = server.backend.stats.aborted;
    // Slow enough that the stream cannot finish before the abort arrives.
    const res = await chat({ "x-mock-tokens": "100000", "x-mock-delay-ms": "5" }, { stream: true, signal: ac.signal });
    const events = await readEvents(res, 4); // role chunk + 3 tokens
    expect(events[1]).toContain('"content":"the"');
    ac.abort();
    const e = await ended;
    expect(e.path).toBe("/v1/chat/completions");
    expect(e.stream).toBe(true);
    expect(e.completionTokensSent).toBeGreaterThanOrEqual(3);
    expect(e.completionTokensSent).toBeLessThan(100000);
    expect(server.backend.stats.aborted).toBe(aborted0 + 1);
  });

  test("x-mock-hang: headers sends nothing until the client gives up, then records the abort", async () => {
    const ac = new AbortController();
    const started = server.backend.nextStart((s) => s.headers.get("x-mock-hang") === "headers");
    const ended = server.backend.nextEnd((e) => e.aborted);
    const answer = chat({ "x-mock-hang": "headers" }, { signal: ac.signal }).then(
      () => "answered",
      () => "aborted",
    );
    await started;
    ac.abort();
    expect(await answer).toBe("aborted");
    expect(await ended).toMatchObject({ status: 0, completionTokensSent: 0, stream: false });
  });

  test("x-mock-hang: body sends the headers and the first event of a stream, then stalls", async () => {
    const ac = new AbortController();
    const ended = server.backend.nextEnd((e) => e.aborted);
    const res = await chat({ "x-mock-hang": "body" }, { stream: true, signal: ac.signal });
    expect(res.status).toBe(200);
    const [first] = await readEvents(res, 1);
    expect(first).toContain('"role":"assistant"');
    ac.abort();
    expect(await ended).toMatchObject({ status: 200, completionTokensSent: 0, stream: true });
  });

  test("x-mock-hang: body on a whole answer sends the headers and half the JSON, then stalls", async () => {
    const ac = new AbortController();
    const ended = server.backend.nextEnd((e) => e.aborted);
    const res = await chat({ "x-mock-hang": "body" }, { signal: ac.signal });
    expect(res.headers.get("content-type")).toBe("application/json");
    const { value } = await (res.body as ReadableStream<Uint8Array>).getReader().read();
    expect(new TextDecoder().decode(value)).toStartWith('{"id":"chatcmpl-');
    ac.abort();
    expect(await ended).toMatchObject({ aborted: true, stream: false });
  });

  test("x-mock-hang-after: N streams exactly N tokens, then stalls until the client leaves", async () => {
    const ac = new AbortController();
    const ended = server.backend.nextEnd((e) => e.aborted);
    const res = await chat({ "x-mock-hang-after": "3" }, { stream: true, signal: ac.signal });
    const events = await readEvents(res, 4);
    expect(events.slice(1).map((e) => JSON.parse(e.slice("data: ".length)).choices[0].delta.content)).toEqual(["the", " quick", " brown"]);
    ac.abort();
    expect((await ended).completionTokensSent).toBe(3);
  });
});

describe("faults the backend causes", () => {
  test("x-mock-drop-after: N sends N tokens, then the connection is reset (no finish, no [DONE])", async () => {
    const ended = server.backend.nextEnd((e) => e.headers.get("x-mock-drop-after") === "2");
    const res = await chat({ "x-mock-drop-after": "2" }, { stream: true });
    expect(res.status).toBe(200);
    const { text, error } = await readUntilFailure(res);
    expect(error).not.toBeNull();
    const events = text.split("\n\n").filter((e) => e !== "");
    expect(events).toHaveLength(3); // role chunk + 2 tokens
    expect(text).not.toContain("[DONE]");
    expect(await ended).toMatchObject({ aborted: false, completionTokensSent: 2 });
  });

  test("the openai client sees a dropped stream as an error, not a normal end", async () => {
    const client = new OpenAI({ apiKey: "k", baseURL: `${server.url}/v1`, maxRetries: 0 });
    const stream = await client.chat.completions.create(
      { model: "m", messages: [{ role: "user", content: "hi" }], stream: true },
      { headers: { "x-mock-drop-after": "1" } },
    );
    let content = "";
    const run = async (): Promise<void> => {
      for await (const chunk of stream) content += chunk.choices[0]?.delta.content ?? "";
    };
    await expect(run()).rejects.toThrow();
    expect(content).toBe("the");
  });

  test("x-mock-drop-after on a whole answer cuts the body in the middle", async () => {
    const res = await chat({ "x-mock-drop-after": "0" });
    const { text, error } = await readUntilFailure(res);
    expect(error).not.toBeNull();
    expect(() => JSON.parse(text)).toThrow();
  });

  test("x-mock-status answers at once in the endpoint's provider shape, with retry-after when asked", async () => {
    const openai = await chat({ "x-mock-status": "429", "x-mock-retry-after": "12" });
    expect(openai.status).toBe(429);
    expect(openai.headers.get("retry-after")).toBe("12");
    expect(await openai.json()).toEqual({ error: { message: "mock error", type: "rate_limit_error", param: null, code: "rate_limit_exceeded" } });

    const anthropic = await chat({ "x-mock-status": "500" }, { path: "/v1/messages", body: JSON.stringify({ model: "c", max_tokens: 5, messages: [] }) });
    expect(anthropic.status).toBe(500);
    expect(anthropic.headers.get("retry-after")).toBeNull();
    expect(await anthropic.json()).toEqual({ type: "error", error: { type: "api_error", message: "mock error" } });

    const overloaded = await chat({ "x-mock-status": "503" }, { path: "/v1/messages", body: "{}" });
    expect(((await overloaded.json()) as { error: { type: string } }).error.type).toBe("overloaded_error");
  });
});

describe("body handling", () => {
  test("x-mock-gzip: 1 sends a gzip body with content-encoding and a truthful content-length", async () => {
    const res = await fetch(`${server.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "x-mock-gzip": "1", "x-mock-tokens": "4" },
      body: chatBody(),
      decompress: false,
    });
    expect(res.headers.get("content-encoding")).toBe("gzip");
    const raw = new Uint8Array(await res.arrayBuffer());
    expect(Number(res.headers.get("content-length"))).toBe(raw.length);
    const body = JSON.parse(gunzipSync(raw).toString("utf8")) as { choices: { message: { content: string } }[] };
    expect(body.choices[0]?.message.content).toBe(mockCompletionText(4));
  });

  test("x-mock-echo: 1 returns the sha256 of the raw body received; the end record has body and headers", async () => {
    const body = chatBody({ note: "héllo ✓" });
    const ended = server.backend.nextEnd((e) => e.headers.get("x-mock-echo") === "1");
    const res = await chat({ "x-mock-echo": "1", "x-client-tag": "t-42" }, { body });
    await res.arrayBuffer();
    expect(res.headers.get("x-mock-request-body-sha256")).toBe(createHash("sha256").update(body).digest("hex"));
    const e = await ended;
    expect(e.body).toBe(body);
    expect(e.headers.get("x-client-tag")).toBe("t-42");
  });

  test("embeddings with encoding_format base64 decode (float32 little-endian) to the float answer", async () => {
    const ask = async (format: string): Promise<{ data: { embedding: unknown }[] }> =>
      (await chat({}, { path: "/v1/embeddings", body: JSON.stringify({ model: "e", input: ["a", "b c"], dimensions: 5, encoding_format: format }) })).json() as Promise<{
        data: { embedding: unknown }[];
      }>;
    const b64 = await ask("base64");
    const floats = await ask("float");
    for (let i = 0; i < 2; i++) {
      const bytes = Buffer.from(b64.data[i]?.embedding as string, "base64");
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      const decoded = Array.from({ length: bytes.byteLength / 4 }, (_, k) => view.getFloat32(k * 4, true));
      expect(decoded).toEqual(floats.data[i]?.embedding as number[]);
    }
  });

  test("x-mock-first-token-delay-ms and x-mock-delay-ms keep the content exact", async () => {
    const res = await chat({ "x-mock-first-token-delay-ms": "5", "x-mock-delay-ms": "1", "x-mock-tokens": "3" }, { stream: true });
    const text = await res.text();
    const content = text
      .split("\n\n")
      .filter((e) => e.startsWith("data: {"))
      .map((e) => (JSON.parse(e.slice(6)) as { choices: { delta: { content?: string } }[] }).choices[0]?.delta.content ?? "")
      .join("");
    expect(content).toBe(mockCompletionText(3));
  });

  test("x-mock-no-usage: 1 leaves usage out even when the client asks for it", async () => {
    const text = await (await chat({ "x-mock-no-usage": "1" }, { body: chatBody({ stream: true, stream_options: { include_usage: true } }) })).text();
    expect(text).not.toContain("usage");
    expect(text).toEndWith("data: [DONE]\n\n");
  });
});

describe("the standalone server's own pages", () => {
  test("GET /health answers ok and /mock/stats the counters, neither counted as traffic", async () => {
    const before = server.backend.stats.requests;
    const health = await fetch(`${server.url}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: "ok" });
    const stats = (await (await fetch(`${server.url}/mock/stats`)).json()) as Record<string, number>;
    expect(Object.keys(stats).sort()).toEqual(["aborted", "active", "completed", "requests", "tokensSent"]);
    expect(stats.requests).toBe(before);
  });

  test("an unknown path is a 404 in OpenAI's error shape", async () => {
    const res = await fetch(`${server.url}/v2/whatever`);
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("not_found");
  });
});
