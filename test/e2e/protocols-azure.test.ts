// Issue 9, point 4: `provider: azure` through the real daemon. The backend is a small
// Azure-like server of the test's own: it records each request, answers only the
// deployment URLs of Azure OpenAI's dated API
// (/openai/deployments/{deployment}/{operation}?api-version=...) with the right
// api-key header, as Azure does (404 for any other path, 401 for a wrong key), and
// hands those to the fake LLM for an OpenAI answer. The official OpenAI client talks
// to the gateway. With LLMPROXY_BIN set, this runs against the compiled executable.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { mockEmbedding } from "../../src/mock/openai-embeddings.ts";
import { startMockServer, type MockServer } from "../../src/mock/server.ts";
import { mockCompletionText } from "../../src/mock/text.ts";
import { startProxy, type ProxyProcess } from "../helpers/proxy.ts";
import { startRecordingBackend, type RecordedRequest, type RecordingBackend } from "../helpers/recording-backend.ts";
import { failure } from "../helpers/client-fixtures.ts";

type OpenAIApiError = InstanceType<typeof OpenAI.APIError>;

const TOKENS = 5;
const AZURE_KEY = "azure-resource-key-0123456789";
const API_VERSION = "2024-10-21";
const CLIENT_KEY = "client-key-must-not-leak";

let mock: MockServer;
let azure: RecordingBackend;
let proxy: ProxyProcess;
let client: OpenAI;

const HELLO = [{ role: "user" as const, content: "Hello there" }];
const DEPLOYMENT_PATH = /^\/openai\/deployments\/([^/]+)\/(chat\/completions|completions|embeddings)$/;

/** Azure's answer: its own errors for a wrong path, version or key; else the fake LLM's answer to the operation. */
async function azureAnswer(req: RecordedRequest, raw: Request): Promise<Response> {
  const m = DEPLOYMENT_PATH.exec(req.path);
  if (m === null) return Response.json({ error: { code: "404", message: "Resource not found" } }, { status: 404 });
  if (req.query.get("api-version") !== API_VERSION) {
    return Response.json({ error: { code: "BadRequest", message: "API version not supported" } }, { status: 400 });
  }
  if (req.headers.get("api-key") !== AZURE_KEY) {
    return Response.json(
      { error: { code: "401", message: "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource." } },
      { status: 401 },
    );
  }
  const headers = new Headers();
  for (const [k, v] of raw.headers) if (k.startsWith("x-mock-") || k === "content-type") headers.set(k, v);
  return await fetch(`${mock.url}/v1/${m[2]}`, { method: "POST", headers, body: req.body });
}

beforeAll(async () => {
  mock = await startMockServer({ tokens: TOKENS, delayMs: 0 });
  azure = await startRecordingBackend(azureAnswer);
  proxy = await startProxy({
    config: `
x-quiet: &quiet { interval: 0s }
backends:
  - { name: azure-east, provider: azure, url: ${azure.url}, api_key: ${AZURE_KEY}, api_version: "${API_VERSION}", health: *quiet }
  - { name: azure-wrong-key, provider: azure, url: ${azure.url}/openai, api_key: not-the-key, api_version: "${API_VERSION}", health: *quiet, circuit: { failures: 1000 } }
models:
  - { name: gpt-4o, targets: [{ backend: azure-east, model: gpt4o-prod }] }
  - { name: text-embedding-3-small, targets: [{ backend: azure-east, model: embeddings-prod }] }
  - { name: gpt-4o-wrong-key, targets: [{ backend: azure-wrong-key, model: gpt4o-prod }] }
retries: { attempts: 0 }
`,
  });
  client = new OpenAI({ baseURL: `${proxy.url}/v1`, apiKey: CLIENT_KEY, maxRetries: 0 });
});

afterAll(async () => {
  expect(await proxy.stop()).toBe(0);
  await mock.stop();
  await azure.stop();
});

describe("chat completions on an Azure deployment", () => {
  test("a plain chat goes to /openai/deployments/{deployment}/chat/completions?api-version=..., with the api-key header and nothing of the client's key", async () => {
    const seen = azure.next();
    const { data: res, response } = await client.chat.completions.create({ model: "gpt-4o", messages: HELLO }).withResponse();
    const req = await seen;
    expect(req.path).toBe("/openai/deployments/gpt4o-prod/chat/completions");
    expect([...req.query.entries()]).toEqual([["api-version", API_VERSION]]);
    expect(req.headers.get("api-key")).toBe(AZURE_KEY);
    expect(req.headers.get("authorization")).toBeNull();
    expect([...req.headers.values()].join("\n")).not.toContain(CLIENT_KEY);
    expect(req.json().messages).toEqual(HELLO);
    expect(res.choices[0]!.message.content).toBe(mockCompletionText(TOKENS));
    expect(res.choices[0]!.finish_reason).toBe("stop");
    expect(res.usage!.completion_tokens).toBe(TOKENS);
    expect(await proxy.accessLine(response.headers.get("x-request-id")!)).toMatchObject({
      status: 200,
      backend: "azure-east",
      upstream_model: "gpt4o-prod",
      prompt_tokens: res.usage!.prompt_tokens,
      completion_tokens: TOKENS,
      usage_source: "backend",
    });
  });

  test("a stream with include_usage: the exact text and the usage chunk", async () => {
    const seen = azure.next();
    const stream = await client.chat.completions.create({ model: "gpt-4o", messages: HELLO, stream: true, stream_options: { include_usage: true } });
    let text = "";
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? "";
      if (chunk.usage) usage = chunk.usage;
    }
    expect((await seen).path).toBe("/openai/deployments/gpt4o-prod/chat/completions");
    expect(text).toBe(mockCompletionText(TOKENS));
    expect(usage!.completion_tokens).toBe(TOKENS);
  });

  test("a stream without include_usage: the gateway asks Azure for usage and hides it from the client, and logs the exact counts", async () => {
    const seen = azure.next();
    const { data: stream, response } = await client.chat.completions.create({ model: "gpt-4o", messages: HELLO, stream: true }).withResponse();
    let text = "";
    for await (const chunk of stream) {
      expect("usage" in chunk).toBe(false);
      text += chunk.choices[0]?.delta.content ?? "";
    }
    expect(text).toBe(mockCompletionText(TOKENS));
    expect((await seen).json().stream_options).toEqual({ include_usage: true });
    expect(await proxy.accessLine(response.headers.get("x-request-id")!)).toMatchObject({ stream: true, completion_tokens: TOKENS, usage_source: "backend" });
  });

  test("the Anthropic SDK on an Azure route: /v1/messages translated to the deployment's chat completions", async () => {
    const anthropic = new Anthropic({ apiKey: CLIENT_KEY, baseURL: proxy.url, maxRetries: 0 });
    const seen = azure.next();
    const msg = await anthropic.messages.create({ model: "gpt-4o", max_tokens: 100, messages: HELLO });
    const req = await seen;
    expect(req.path).toBe("/openai/deployments/gpt4o-prod/chat/completions");
    expect(req.query.get("api-version")).toBe(API_VERSION);
    expect(req.headers.get("api-key")).toBe(AZURE_KEY);
    expect(msg.content as unknown).toEqual([{ type: "text", text: mockCompletionText(TOKENS) }]);
    expect(msg.stop_reason).toBe("end_turn");
  });

  test("Azure's own 401 for a wrong key reaches the SDK as AuthenticationError with Azure's message", async () => {
    const err = await failure(client.chat.completions.create({ model: "gpt-4o-wrong-key", messages: HELLO }));
    expect(err).toBeInstanceOf(OpenAI.AuthenticationError);
    const e = err as OpenAIApiError;
    expect(e.status).toBe(401);
    expect((e.error as { message: string }).message).toContain("Access denied");
    // the base URL of that backend ends in /openai, which the gateway does not repeat
    expect(azure.requests.at(-1)!.path).toBe("/openai/deployments/gpt4o-prod/chat/completions");
  });
});

describe("the other endpoints", () => {
  test("embeddings go to /openai/deployments/{deployment}/embeddings?api-version=... and come back as the backend computed them", async () => {
    const seen = azure.next();
    const { data: res, response } = await client.embeddings
      .create({ model: "text-embedding-3-small", input: ["first text", "second text"], encoding_format: "float" })
      .withResponse();
    const req = await seen;
    expect(req.path).toBe("/openai/deployments/embeddings-prod/embeddings");
    expect(req.query.get("api-version")).toBe(API_VERSION);
    expect(req.headers.get("api-key")).toBe(AZURE_KEY);
    expect(res.data.map((d) => d.embedding)).toEqual([Array.from(mockEmbedding("first text", 8)), Array.from(mockEmbedding("second text", 8))]);
    expect(await proxy.accessLine(response.headers.get("x-request-id")!)).toMatchObject({ endpoint: "/v1/embeddings", backend: "azure-east", prompt_tokens: res.usage.prompt_tokens, usage_source: "backend" });
  });

  test("/v1/responses on an Azure route is refused with 400 endpoint_not_supported, and nothing reaches Azure", async () => {
    const before = azure.requests.length;
    const err = await failure(client.responses.create({ model: "gpt-4o", input: "Tell me a story" }));
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    const e = err as OpenAIApiError;
    expect(e.status).toBe(400);
    expect(e.code).toBe("endpoint_not_supported");
    expect(e.param).toBe("model");
    expect(azure.requests.length).toBe(before);
  });
});
