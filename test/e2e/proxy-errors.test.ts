// Bad input and refusals. A request that fails the gateway's checks is answered with
// OpenAI's error JSON and the right status, and nothing of it reaches a backend; a
// backend's refusal reaches the client with its status and its error, in OpenAI form.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import OpenAI from "openai";
import { startMockServer, type MockServer } from "../../src/mock/server.ts";
import { startProxy, type ProxyProcess } from "../helpers/proxy.ts";
import { rawRequest } from "../helpers/raw-http.ts";
import { httpResponse, startScriptedBackend, type ScriptedBackend } from "../helpers/scripted-backend.ts";

let mock: MockServer;
/** Answers in the error shapes of other servers, picked by the request's x-shape header. */
let odd: ScriptedBackend;
/** A port where nothing listens (a server was started there and stopped). */
let closedUrl: string;
let proxy: ProxyProcess;
let client: OpenAI;

const MAX_BODY = 2048;

beforeAll(async () => {
  mock = await startMockServer({ tokens: 4, delayMs: 0 });
  odd = await startScriptedBackend((req) => {
    const [status, type, body] = ODD_SHAPES[req.headers.get("x-shape") ?? ""] ?? [500, "text/plain", "no such shape"];
    return { bytes: httpResponse(status, [["Content-Type", type], ["Connection", "close"]], body), then: "close" };
  });
  const gone = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("") });
  closedUrl = `http://127.0.0.1:${gone.port}`;
  await gone.stop(true);
  proxy = await startProxy({
    config: `
backends:
  - name: vllm-a
    url: ${mock.url}
    provider: openai
  - name: nowhere
    url: ${closedUrl}
    provider: openai
    # nothing listens there; the tests are about the request's own error, not probes
    health: { interval: 0s }
  - name: odd
    url: ${odd.url}
    provider: openai
    # a scripted fake, not a server: no health probes (they would be its traffic)
    health: { interval: 0s }
models:
  - name: odd
    targets: [{ backend: odd }]
  - name: llama
    targets: [{ backend: vllm-a }]
  - name: embed
    targets: [{ backend: vllm-a }]
  - name: unreachable
    targets: [{ backend: nowhere }]
server:
  max_body: ${MAX_BODY}
timeouts: { connect: 2s, first_byte: 5s, idle: 5s, total: 30s }
retries: { attempts: 0 }
`,
  });
  client = new OpenAI({ baseURL: `${proxy.url}/v1`, apiKey: "k", maxRetries: 0 });
});

afterAll(async () => {
  expect(await proxy.stop()).toBe(0);
  await mock.stop();
  await odd.stop();
});

interface ErrorAnswer {
  status: number;
  requestId: string | null;
  error: { message: string; type: string; param: string | null; code: string | null };
}

async function send(path: string, body: string, headers: Record<string, string> = {}, method = "POST"): Promise<ErrorAnswer & { res: Response }> {
  const res = await fetch(`${proxy.url}${path}`, { method, headers: { "content-type": "application/json", ...headers }, body: method === "GET" ? null : body });
  expect(res.headers.get("content-type")).toStartWith("application/json");
  const json = (await res.json()) as { error: ErrorAnswer["error"] };
  // OpenAI's error shape: exactly these four members, the message non-empty
  expect(Object.keys(json)).toEqual(["error"]);
  expect(Object.keys(json.error).sort()).toEqual(["code", "message", "param", "type"]);
  expect(json.error.message.length).toBeGreaterThan(0);
  return { res, status: res.status, requestId: res.headers.get("x-request-id"), error: json.error };
}

/** A request the gateway must refuse by itself: the answer, and proof the backend saw nothing. */
async function refused(path: string, body: string, headers: Record<string, string> = {}, logged = true): Promise<ErrorAnswer> {
  const before = mock.backend.stats.requests;
  const a = await send(path, body, headers);
  expect(a.requestId).toBeTruthy();
  // the access-log line is written when the request ended: a forward would have happened by then
  if (logged) await proxy.accessLine(a.requestId!);
  expect(mock.backend.stats.requests).toBe(before);
  return a;
}

const CHAT = "/v1/chat/completions";

/** Error answers of servers that do not speak OpenAI's error shape: status, content type, body. */
const ODD_SHAPES: Record<string, [number, string, string]> = {
  "vllm-old": [400, "application/json", '{"object":"error","message":"This model\'s maximum context length is 4096 tokens.","type":"BadRequestError","param":null,"code":400}'],
  "fastapi-detail": [404, "application/json", '{"detail":"Not Found"}'],
  "fastapi-validation": [422, "application/json", '{"detail":[{"loc":["body","messages"],"msg":"field required","type":"value_error.missing"}]}'],
  "tgi-string": [503, "application/json", '{"error":"Model is overloaded","error_type":"overloaded"}'],
  "plain-text": [500, "text/plain", "Internal Server Error"],
  html: [502, "text/html", "<html><body><h1>502 Bad Gateway</h1></body></html>"],
  empty: [503, "text/plain", ""],
};
const HI = [{ role: "user" as const, content: "hi" }];

describe("bad input is refused with 400 and never forwarded", () => {
  test("malformed JSON: 400 invalid_json", async () => {
    const a = await refused(CHAT, '{"model": "llama", "messages": [');
    expect(a.status).toBe(400);
    expect(a.error).toMatchObject({ type: "invalid_request_error", code: "invalid_json", param: null });
  });

  test("an empty body: 400 invalid_json", async () => {
    const a = await refused(CHAT, "");
    expect(a.status).toBe(400);
    expect(a.error.code).toBe("invalid_json");
  });

  test("a body that is not a JSON object: 400 invalid_request", async () => {
    for (const body of ["[1,2]", '"text"', "42", "null"]) {
      const a = await refused(CHAT, body);
      expect(a.status).toBe(400);
      expect(a.error).toMatchObject({ type: "invalid_request_error", code: "invalid_request" });
    }
  });

  test("a missing or empty model: 400 missing_model, param model", async () => {
    for (const body of [{ messages: HI }, { model: "", messages: HI }, { model: null, messages: HI }]) {
      const a = await refused(CHAT, JSON.stringify(body));
      expect(a.status).toBe(400);
      expect(a.error).toMatchObject({ type: "invalid_request_error", code: "missing_model", param: "model" });
    }
  });

  test("fields of the wrong type: 400 invalid_request naming the field", async () => {
    const cases: [string, object][] = [
      ["model", { model: 5, messages: HI }],
      ["model", { model: ["llama"], messages: HI }],
      ["messages", { model: "llama", messages: { role: "user" } }],
      ["messages", { model: "llama", messages: "hi" }],
      ["stream", { model: "llama", messages: HI, stream: "yes" }],
      ["stream_options", { model: "llama", messages: HI, stream: true, stream_options: true }],
      ["stream_options.include_usage", { model: "llama", messages: HI, stream: true, stream_options: { include_usage: "yes" } }],
      ["max_tokens", { model: "llama", messages: HI, max_tokens: "10" }],
      ["temperature", { model: "llama", messages: HI, temperature: "hot" }],
      ["n", { model: "llama", messages: HI, n: [2] }],
    ];
    for (const [param, body] of cases) {
      const a = await refused(CHAT, JSON.stringify(body));
      expect({ param, status: a.status, code: a.error.code, got: a.error.param }).toEqual({ param, status: 400, code: "invalid_request", got: param });
    }
  });

  test("each endpoint's required input: messages, prompt, input", async () => {
    const cases: [string, object, string][] = [
      [CHAT, { model: "llama" }, "messages"],
      ["/v1/completions", { model: "llama" }, "prompt"],
      ["/v1/embeddings", { model: "embed" }, "input"],
      ["/v1/embeddings", { model: "embed", input: null }, "input"],
    ];
    for (const [path, body, param] of cases) {
      const a = await refused(path, JSON.stringify(body));
      expect({ path, status: a.status, code: a.error.code, param: a.error.param }).toEqual({ path, status: 400, code: "invalid_request", param });
    }
  });

  test("a stream asked of embeddings: 400, param stream", async () => {
    const a = await refused("/v1/embeddings", JSON.stringify({ model: "embed", input: "x", stream: true }));
    expect(a.status).toBe(400);
    expect(a.error).toMatchObject({ code: "invalid_request", param: "stream" });
  });

  test("the OpenAI client raises BadRequestError with the code and param", async () => {
    const before = mock.backend.stats.requests;
    const err = await client.chat.completions.create({ model: "llama", messages: HI, max_tokens: "ten" as unknown as number }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err).toMatchObject({ status: 400, code: "invalid_request", param: "max_tokens", type: "invalid_request_error" });
    await proxy.accessLine((err as InstanceType<typeof OpenAI.APIError>).requestID!);
    expect(mock.backend.stats.requests).toBe(before);
  });

  test("a refused request is logged with its status and error code", async () => {
    const a = await refused(CHAT, "{", { "x-request-id": "bad-json-logged" });
    expect(a.requestId).toBe("bad-json-logged");
    expect(await proxy.accessLine("bad-json-logged")).toMatchObject({ status: 400, error_code: "invalid_json", backend: "" });
  });
});

describe("unknown models and endpoints", () => {
  test("an unknown model: 404 model_not_found, param model, nothing forwarded", async () => {
    const a = await refused(CHAT, JSON.stringify({ model: "gpt-9", messages: HI }));
    expect(a.status).toBe(404);
    expect(a.error).toMatchObject({ type: "invalid_request_error", code: "model_not_found", param: "model" });
    expect(a.error.message).toContain("gpt-9");
    expect(await proxy.accessLine(a.requestId!)).toMatchObject({ status: 404, error_code: "model_not_found", model: "gpt-9" });
  });

  test("the OpenAI client raises NotFoundError for an unknown model", async () => {
    const err = await client.embeddings.create({ model: "gpt-9", input: "x" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.NotFoundError);
    expect(err).toMatchObject({ status: 404, code: "model_not_found" });
  });

  test("an unknown path: 404 not_found; a wrong method: 405 with Allow", async () => {
    // not an inference endpoint: answered by the router, no usage result to log
    const a = await refused("/v1/chat/complete", JSON.stringify({ model: "llama", messages: HI }), {}, false);
    expect(a.status).toBe(404);
    expect(a.error.code).toBe("not_found");
    const b = await send(CHAT, "", {}, "GET");
    expect(b.status).toBe(405);
    expect(b.error.code).toBe("method_not_allowed");
    expect(b.res.headers.get("allow")).toBe("POST");
  });
});

describe("request bodies over server.max_body", () => {
  const big = JSON.stringify({ model: "llama", messages: [{ role: "user", content: "x".repeat(MAX_BODY) }] });

  test("a body over the limit (Content-Length): 413 request_too_large, nothing forwarded", async () => {
    const a = await refused(CHAT, big);
    expect(a.status).toBe(413);
    expect(a.error).toMatchObject({ type: "invalid_request_error", code: "request_too_large" });
    expect(a.error.message).toContain("max_body");
  });

  test("a chunked body (no Content-Length) that grows past the limit: 413 request_too_large, nothing forwarded", async () => {
    const before = mock.backend.stats.requests;
    // framed by hand: an HTTP client might buffer a stream body and send a Content-Length
    let framed = "";
    for (let i = 0; i < big.length; i += 512) {
      const part = big.slice(i, i + 512);
      framed += `${part.length.toString(16)}\r\n${part}\r\n`;
    }
    framed += "0\r\n\r\n";
    const res = await rawRequest(proxy.url, {
      path: CHAT,
      headers: [
        ["Content-Type", "application/json"],
        ["Transfer-Encoding", "chunked"],
        ["X-Request-Id", "chunked-too-large"],
      ],
      body: framed,
    });
    expect(res.status).toBe(413);
    expect(res.header("x-request-id")).toBe("chunked-too-large");
    expect(JSON.parse(res.body.toString()).error).toMatchObject({ type: "invalid_request_error", code: "request_too_large", param: null });
    await proxy.accessLine("chunked-too-large");
    expect(mock.backend.stats.requests).toBe(before);
  });

  test("a body just under the limit is forwarded", async () => {
    const body = JSON.stringify({ model: "llama", messages: [{ role: "user", content: "x".repeat(MAX_BODY - 100) }] });
    expect(body.length).toBeLessThanOrEqual(MAX_BODY);
    const res = await fetch(`${proxy.url}${CHAT}`, { method: "POST", headers: { "content-type": "application/json" }, body });
    expect(res.status).toBe(200);
    await res.arrayBuffer();
  });
});

describe("a backend's refusal reaches the client with its status, in OpenAI form", () => {
  const expected: Record<number, [type: string, code: string | null, sdkClass: unknown]> = {
    400: ["invalid_request_error", null, OpenAI.BadRequestError],
    401: ["invalid_request_error", "invalid_api_key", OpenAI.AuthenticationError],
    403: ["permission_error", null, OpenAI.PermissionDeniedError],
    404: ["invalid_request_error", "not_found", OpenAI.NotFoundError],
    422: ["invalid_request_error", null, OpenAI.UnprocessableEntityError],
    429: ["rate_limit_error", "rate_limit_exceeded", OpenAI.RateLimitError],
    500: ["server_error", null, OpenAI.InternalServerError],
    503: ["server_error", null, OpenAI.InternalServerError],
  };

  for (const [status, [type, code, sdkClass]] of Object.entries(expected)) {
    test(`backend ${status}: the client gets ${status} and the backend's error`, async () => {
      const seen = mock.backend.nextEnd();
      const a = await send(CHAT, JSON.stringify({ model: "llama", messages: HI }), { "x-mock-status": status });
      expect(a.status).toBe(Number(status));
      expect(a.error).toEqual({ message: "mock error", type, param: null, code });
      expect(a.requestId).toBeTruthy();
      expect((await seen).status).toBe(Number(status));
      expect(await proxy.accessLine(a.requestId!)).toMatchObject({ status: Number(status), error_code: `upstream_http_${status}`, backend: "vllm-a" });

      const err = await client.chat.completions.create({ model: "llama", messages: HI, stream: true }, { headers: { "x-mock-status": status } }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(sdkClass as typeof OpenAI.APIError);
      expect(err).toMatchObject({ status: Number(status), code, type });
    });
  }

  test("a 429's Retry-After passes through", async () => {
    const a = await send(CHAT, JSON.stringify({ model: "llama", messages: HI }), { "x-mock-status": "429", "x-mock-retry-after": "7" });
    expect(a.status).toBe(429);
    expect(a.res.headers.get("retry-after")).toBe("7");
  });

  test("a refusal of a streamed request is a JSON error, not a stream", async () => {
    const a = await send(CHAT, JSON.stringify({ model: "llama", messages: HI, stream: true }), { "x-mock-status": "500" });
    expect(a.status).toBe(500);
    expect(a.error.type).toBe("server_error");
  });
});

describe("a backend's refusal in another server's error shape is turned into OpenAI form, its status kept", () => {
  const expected: Record<string, ErrorAnswer["error"]> = {
    "vllm-old": { message: "This model's maximum context length is 4096 tokens.", type: "BadRequestError", param: null, code: "400" },
    "fastapi-detail": { message: "Not Found", type: "invalid_request_error", param: null, code: "upstream_http_404" },
    "fastapi-validation": {
      message: '[{"loc":["body","messages"],"msg":"field required","type":"value_error.missing"}]',
      type: "invalid_request_error",
      param: null,
      code: "upstream_http_422",
    },
    "tgi-string": { message: "Model is overloaded", type: "server_error", param: null, code: "upstream_http_503" },
    "plain-text": { message: "Internal Server Error", type: "server_error", param: null, code: "upstream_http_500" },
    html: { message: "<html><body><h1>502 Bad Gateway</h1></body></html>", type: "server_error", param: null, code: "upstream_http_502" },
    empty: { message: "backend odd answered HTTP 503", type: "server_error", param: null, code: "upstream_http_503" },
  };
  for (const [shape, error] of Object.entries(expected)) {
    test(`${shape}: HTTP ${ODD_SHAPES[shape]![0]}`, async () => {
      const a = await send(CHAT, JSON.stringify({ model: "odd", messages: HI }), { "x-shape": shape });
      expect(a.status).toBe(ODD_SHAPES[shape]![0]);
      expect(a.error).toEqual(error);
      expect(a.requestId).toBeTruthy();
    });
  }
});

describe("a backend that cannot be reached", () => {
  test("connection refused: 502 upstream_connect_error", async () => {
    const a = await send(CHAT, JSON.stringify({ model: "unreachable", messages: HI }));
    expect(a.status).toBe(502);
    expect(a.error).toMatchObject({ type: "server_error", code: "upstream_connect_error" });
    expect(await proxy.accessLine(a.requestId!)).toMatchObject({ status: 502, error_code: "upstream_connect_error", backend: "nowhere" });
  });

  test("the OpenAI client raises InternalServerError (502) for it", async () => {
    const err = await client.chat.completions.create({ model: "unreachable", messages: HI, stream: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.InternalServerError);
    expect(err).toMatchObject({ status: 502, code: "upstream_connect_error" });
  });
});
