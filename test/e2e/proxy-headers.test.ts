// What crosses the proxy besides the body: the URL's query string, request ids, the
// headers that belong to one connection (RFC 9110 §7.6.1), credentials, and encodings.
// Raw HTTP over TCP where an HTTP client would hide or rewrite what is checked.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { brotliCompressSync, deflateSync, gzipSync } from "node:zlib";
import OpenAI from "openai";
import { startMockServer, type MockServer } from "../../src/mock/server.ts";
import { mockCompletionText } from "../../src/mock/text.ts";
import { startProxy, type ProxyProcess } from "../helpers/proxy.ts";
import { rawRequest } from "../helpers/raw-http.ts";
import { httpResponse, startScriptedBackend, type ScriptedBackend } from "../helpers/scripted-backend.ts";
import { streamedText } from "../helpers/sse.ts";
import { startWrappedMock, type WrappedMock } from "../helpers/wrapped-mock.ts";

/** The backend with an api_key. */
let mock: MockServer;
/** A backend without api_key, behind a server that records full URLs. */
let open: WrappedMock;
/** Answers with hop-by-hop headers of its own. */
let hoppy: ScriptedBackend;
/** Answers an event stream compressed with the request's x-encoding (gzip, deflate, br). */
let packed: ScriptedBackend;
let proxy: ProxyProcess;

const CHAT = JSON.stringify({ model: "llama", messages: [{ role: "user", content: "Hello there" }] });
const CHAT_STREAM = JSON.stringify({ model: "llama", messages: [{ role: "user", content: "Hello there" }], stream: true });

beforeAll(async () => {
  mock = await startMockServer({ tokens: 4, delayMs: 0 });
  open = await startWrappedMock({ tokens: 4, delayMs: 0 });
  hoppy = await startScriptedBackend(() => ({
    bytes: httpResponse(
      200,
      [
        ["Content-Type", "application/json"],
        ["Connection", "close, X-Backend-Hop"],
        ["X-Backend-Hop", "backend-connection-detail"],
        ["Keep-Alive", "timeout=5, max=1000"],
        ["Proxy-Authenticate", "Basic realm=backend"],
        ["Upgrade", "h2c"],
        ["X-Backend-End-To-End", "kept"],
      ],
      HOPPY_ANSWER,
    ),
    then: "close",
  }));
  packed = await startScriptedBackend((req) => {
    const encoding = req.headers.get("x-encoding") ?? "gzip";
    const plain = Buffer.from(PACKED_STREAM);
    const body = encoding === "br" ? brotliCompressSync(plain) : encoding === "deflate" ? deflateSync(plain) : gzipSync(plain);
    const head = httpResponse(200, [["Content-Type", "text/event-stream"], ["Content-Encoding", encoding], ["Connection", "close"]], "", body.length);
    return { bytes: Buffer.concat([Buffer.from(head, "latin1"), body]), then: "close" };
  });
  proxy = await startProxy({
    config: `
backends:
  - name: keyed
    url: ${mock.url}
    provider: openai
    api_key: upstream-secret-123
  - name: open
    url: ${open.url}
    provider: openai
    # a scripted fake, not a server: no health probes (they would be its traffic)
    health: { interval: 0s }
  - name: hoppy
    url: ${hoppy.url}
    provider: openai
    # a scripted fake, not a server: no health probes (they would be its traffic)
    health: { interval: 0s }
  - name: packed
    url: ${packed.url}
    provider: openai
    # a scripted fake, not a server: no health probes (they would be its traffic)
    health: { interval: 0s }
models:
  - name: packed
    targets: [{ backend: packed }]
  - name: hoppy
    targets: [{ backend: hoppy }]
  - name: llama
    targets: [{ backend: keyed }]
  - name: open
    targets: [{ backend: open }]
server:
  max_body: 4KiB
timeouts: { connect: 5s, first_byte: 300ms, idle: 5s, total: 60s }
retries: { attempts: 0 }
`,
  });
});

afterAll(async () => {
  expect(await proxy.stop()).toBe(0);
  await mock.stop();
  await open.stop();
  await hoppy.stop();
  await packed.stop();
});

const sseEvent = (data: object | string) => `data: ${typeof data === "string" ? data : JSON.stringify(data)}\n\n`;
const PACKED_EVENTS = [
  sseEvent({ id: "c1", object: "chat.completion.chunk", choices: [{ index: 0, delta: { role: "assistant", content: "Packed" } }] }),
  sseEvent({ id: "c1", object: "chat.completion.chunk", choices: [{ index: 0, delta: { content: " words" }, finish_reason: "stop" }] }),
];
const PACKED_USAGE = sseEvent({ id: "c1", object: "chat.completion.chunk", choices: [], usage: { prompt_tokens: 9, completion_tokens: 2, total_tokens: 11 } });
const PACKED_STREAM = PACKED_EVENTS.join("") + PACKED_USAGE + sseEvent("[DONE]");

const HOPPY_ANSWER = JSON.stringify({
  id: "chatcmpl-h",
  object: "chat.completion",
  created: 1,
  model: "hoppy",
  choices: [{ index: 0, message: { role: "assistant", content: "hop" }, finish_reason: "stop" }],
  usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 },
});

function post(path: string, body: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${proxy.url}${path}`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body });
}

describe("the request URL", () => {
  test("the query string reaches the backend unchanged", async () => {
    const seen = open.nextUrl();
    const query = "?api-version=2024-10-21&tag=a%20b&empty=&x=1&x=2";
    const res = await post(`/v1/chat/completions${query}`, CHAT.replace('"llama"', '"open"'));
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    expect(await seen).toBe(`${open.url}/v1/chat/completions${query}`);
  });

  test("a request without a query string reaches the backend without one", async () => {
    const seen = open.nextUrl();
    const res = await post("/v1/embeddings", JSON.stringify({ model: "open", input: "x" }));
    await res.arrayBuffer();
    expect(await seen).toBe(`${open.url}/v1/embeddings`);
  });
});

describe("request ids", () => {
  test("the client's x-request-id is kept: on the answer, at the backend and in the access log", async () => {
    const seen = mock.backend.nextEnd();
    const res = await post("/v1/chat/completions", CHAT, { "x-request-id": "client-trace-0001" });
    await res.arrayBuffer();
    expect(res.headers.get("x-request-id")).toBe("client-trace-0001");
    expect((await seen).headers.get("x-request-id")).toBe("client-trace-0001");
    expect(await proxy.accessLine("client-trace-0001")).toMatchObject({ status: 200 });
  });

  test("the client's x-request-id is kept on a stream", async () => {
    const res = await post("/v1/chat/completions", CHAT_STREAM, { "x-request-id": "client-trace-0002" });
    expect(res.headers.get("x-request-id")).toBe("client-trace-0002");
    expect(streamedText(await res.text())).toBe(mockCompletionText(4));
    expect(await proxy.accessLine("client-trace-0002")).toMatchObject({ status: 200, stream: true });
  });

  test("without one, each answer gets a new id, also sent to the backend and logged", async () => {
    const seen = mock.backend.nextEnd();
    const a = await post("/v1/chat/completions", CHAT);
    await a.arrayBuffer();
    const b = await post("/v1/chat/completions", CHAT);
    await b.arrayBuffer();
    const idA = a.headers.get("x-request-id");
    const idB = b.headers.get("x-request-id");
    expect(idA).toBeTruthy();
    expect(idB).toBeTruthy();
    expect(idA).not.toBe(idB);
    expect((await seen).headers.get("x-request-id")).toBe(idA);
    await proxy.accessLine(idA!);
    await proxy.accessLine(idB!);
  });

  test("an id that is not a sane token (spaces, too long) is replaced by a new one", async () => {
    for (const bad of ["has spaces in it", "x".repeat(200), "semi;colon"]) {
      const res = await post("/v1/chat/completions", CHAT, { "x-request-id": bad });
      await res.arrayBuffer();
      const id = res.headers.get("x-request-id");
      expect(id).toBeTruthy();
      expect(id).not.toBe(bad);
    }
  });

  test("every error answer carries x-request-id: the client's, or a new one", async () => {
    const errors: [string, string, Record<string, string>][] = [
      ["/v1/chat/completions", "{not json", {}], // 400
      ["/v1/chat/completions", JSON.stringify({ model: "nope", messages: [] }), {}], // 404 model
      ["/v1/chat/completions", JSON.stringify({ model: "llama", messages: [{ role: "user", content: "x".repeat(5000) }] }), {}], // 413
      ["/v1/chat/completions", CHAT, { "x-mock-status": "429" }], // backend refusal
      ["/v1/chat/completions", CHAT, { "x-mock-hang": "headers" }], // 504 first byte
      ["/v1/nowhere", CHAT, {}], // 404 endpoint
    ];
    const statuses: number[] = [];
    for (const [i, [path, body, headers]] of errors.entries()) {
      const given = await post(path, body, { ...headers, "x-request-id": `err-${i}` });
      await given.arrayBuffer();
      statuses.push(given.status);
      expect(given.headers.get("x-request-id")).toBe(`err-${i}`);
      const fresh = await post(path, body, headers);
      await fresh.arrayBuffer();
      expect(fresh.status).toBe(given.status);
      expect(fresh.headers.get("x-request-id")).toMatch(/^[A-Za-z0-9._:\/+=@-]+$/);
    }
    expect(statuses).toEqual([400, 404, 413, 429, 504, 404]);
    const get = await fetch(`${proxy.url}/v1/chat/completions`, { headers: { "x-request-id": "err-get" } });
    expect(get.status).toBe(405);
    expect(get.headers.get("x-request-id")).toBe("err-get");
  });

  test("the gateway's own answers (/health, /v1/models) carry x-request-id too", async () => {
    for (const path of ["/health", "/v1/models"]) {
      const res = await fetch(`${proxy.url}${path}`, { headers: { "x-request-id": `own-${path.slice(1).replace("/", "-")}` } });
      await res.arrayBuffer();
      expect(res.status).toBe(200);
      expect(res.headers.get("x-request-id")).toBe(`own-${path.slice(1).replace("/", "-")}`);
    }
  });

  test("the OpenAI client exposes the id of a failed request", async () => {
    const client = new OpenAI({ baseURL: `${proxy.url}/v1`, apiKey: "k", maxRetries: 0 });
    const err = await client.chat.completions.create({ model: "nope", messages: [{ role: "user", content: "hi" }] }, { headers: { "x-request-id": "sdk-err-1" } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.NotFoundError);
    expect((err as InstanceType<typeof OpenAI.APIError>).requestID).toBe("sdk-err-1");
  });
});

describe("hop-by-hop headers", () => {
  test("connection, keep-alive, te, upgrade, proxy-authorization and headers named in Connection do not reach the backend", async () => {
    const seen = mock.backend.nextEnd();
    const res = await rawRequest(proxy.url, {
      path: "/v1/chat/completions",
      headers: [
        ["Content-Type", "application/json"],
        ["Connection", "close, X-Hop-Secret, x-other-hop"],
        ["X-Hop-Secret", "must-not-pass"],
        ["X-Other-Hop", "must-not-pass-either"],
        ["Keep-Alive", "timeout=5, max=100"],
        ["TE", "trailers"],
        ["Upgrade", "h2c"],
        ["Proxy-Authorization", "Basic cHJveHk6c2VjcmV0"],
        ["Proxy-Connection", "keep-alive"],
        ["X-End-To-End", "passes"],
      ],
      body: CHAT,
    });
    expect(res.status).toBe(200);
    const h = (await seen).headers;
    for (const name of ["x-hop-secret", "x-other-hop", "keep-alive", "te", "upgrade", "proxy-authorization", "proxy-connection"]) {
      expect({ name, value: h.get(name) }).toEqual({ name, value: null });
    }
    // the proxy's own connection to the backend may say keep-alive; never the client's list
    expect(h.get("connection") ?? "").not.toMatch(/hop|close/i);
    // an end-to-end header does pass; Host names the backend, not the gateway
    expect(h.get("x-end-to-end")).toBe("passes");
    expect(h.get("host")).toBe(new URL(mock.url).host);
  });
});

describe("hop-by-hop headers of the backend's answer", () => {
  test("connection, keep-alive, proxy-authenticate, upgrade and headers named in the backend's Connection do not reach the client", async () => {
    const res = await rawRequest(proxy.url, {
      path: "/v1/chat/completions",
      headers: [["Content-Type", "application/json"]],
      body: CHAT.replace('"llama"', '"hoppy"'),
    });
    expect(res.status).toBe(200);
    expect(res.body.toString()).toBe(HOPPY_ANSWER);
    for (const name of ["x-backend-hop", "keep-alive", "proxy-authenticate", "upgrade"]) {
      expect({ name, value: res.header(name) }).toEqual({ name, value: null });
    }
    expect(res.header("connection") ?? "").not.toMatch(/hop/i);
    expect(res.header("x-backend-end-to-end")).toBe("kept");
  });
});

describe("credentials", () => {
  test("the client's Authorization, x-api-key, api-key and cookie never reach the backend; the backend's api_key does", async () => {
    const seen = mock.backend.nextEnd();
    const res = await post("/v1/chat/completions", CHAT, {
      authorization: "Bearer client-secret-a",
      "x-api-key": "client-secret-b",
      "api-key": "client-secret-c",
      cookie: "session=client-secret-d",
    });
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    const h = (await seen).headers;
    expect(h.get("authorization")).toBe("Bearer upstream-secret-123");
    expect(h.get("x-api-key")).toBeNull();
    expect(h.get("api-key")).toBeNull();
    expect(h.get("cookie")).toBeNull();
    expect([...h.values()].join("\n")).not.toContain("client-secret");
  });

  test("a backend without api_key gets no Authorization at all, not the client's", async () => {
    const seen = open.backend.nextEnd();
    const res = await post("/v1/chat/completions", CHAT.replace('"llama"', '"open"'), { authorization: "Bearer client-secret-a", "x-api-key": "client-secret-b" });
    await res.arrayBuffer();
    const h = (await seen).headers;
    expect(h.get("authorization")).toBeNull();
    expect(h.get("x-api-key")).toBeNull();
  });

  test("the backend's api_key never reaches the client or the log", async () => {
    const res = await post("/v1/chat/completions", CHAT, { "x-request-id": "no-leak-1" });
    const text = await res.text();
    expect([...res.headers.values()].join("\n") + text).not.toContain("upstream-secret-123");
    await proxy.accessLine("no-leak-1");
    expect(proxy.logs.map((l) => JSON.stringify(l)).join("\n")).not.toContain("upstream-secret-123");
  });

  test("the client's IP is added to x-forwarded-for", async () => {
    const seen = mock.backend.nextEnd();
    const res = await post("/v1/chat/completions", CHAT, { "x-forwarded-for": "203.0.113.9" });
    await res.arrayBuffer();
    expect((await seen).headers.get("x-forwarded-for")).toBe("203.0.113.9, 127.0.0.1");
  });
});

describe("compressed answers", () => {
  test("a gzip answer from the backend arrives decoded, with truthful headers", async () => {
    const res = await rawRequest(proxy.url, {
      path: "/v1/chat/completions",
      headers: [
        ["Content-Type", "application/json"],
        ["Accept-Encoding", "gzip"],
        ["x-mock-gzip", "1"],
      ],
      body: CHAT,
    });
    expect(res.status).toBe(200);
    expect(res.header("content-encoding")).toBeNull();
    const len = res.header("content-length");
    if (len !== null) expect(Number(len)).toBe(res.body.length);
    const json = JSON.parse(res.body.toString("utf8"));
    expect(json.choices[0].message.content).toBe(mockCompletionText(4));
  });

  test("the OpenAI client reads a gzip answer through the proxy", async () => {
    const client = new OpenAI({ baseURL: `${proxy.url}/v1`, apiKey: "k", maxRetries: 0 });
    const { data, response } = await client.chat.completions
      .create({ model: "llama", messages: [{ role: "user", content: "hi" }] }, { headers: { "x-mock-gzip": "1" } })
      .withResponse();
    expect(data.choices[0]!.message.content).toBe(mockCompletionText(4));
    expect(response.headers.get("content-encoding")).toBeNull();
    expect(await proxy.accessLine(response.headers.get("x-request-id")!)).toMatchObject({ status: 200, completion_tokens: 4, usage_source: "backend" });
  });
});

describe("compressed event streams", () => {
  for (const encoding of ["gzip", "deflate", "br"]) {
    test(`a ${encoding} event stream arrives decoded, without Content-Encoding, its usage read and hidden`, async () => {
      const res = await rawRequest(proxy.url, {
        path: "/v1/chat/completions",
        headers: [
          ["Content-Type", "application/json"],
          ["Accept-Encoding", "gzip, deflate, br"],
          ["X-Encoding", encoding],
          ["X-Request-Id", `packed-${encoding}`],
        ],
        body: JSON.stringify({ model: "packed", messages: [{ role: "user", content: "hi" }], stream: true }),
      });
      expect(res.status).toBe(200);
      expect(res.header("content-encoding")).toBeNull();
      expect(res.body.toString("utf8")).toBe(PACKED_EVENTS.join("") + sseEvent("[DONE]"));
      expect(await proxy.accessLine(`packed-${encoding}`)).toMatchObject({ prompt_tokens: 9, completion_tokens: 2, usage_source: "backend" });
    });
  }
});

describe("content types", () => {
  test("JSON answers are application/json, streams text/event-stream", async () => {
    const a = await post("/v1/chat/completions", CHAT);
    await a.arrayBuffer();
    expect(a.headers.get("content-type")).toStartWith("application/json");
    const b = await post("/v1/chat/completions", CHAT_STREAM);
    await b.arrayBuffer();
    expect(b.headers.get("content-type")).toStartWith("text/event-stream");
  });
});
