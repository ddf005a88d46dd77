import { describe, expect, test } from "bun:test";
import { mergeAnthropicUsage, usageFromJsonText, usageFromObject } from "../../src/proxy/usage-parse.ts";
import { openAiErrorBody } from "../../src/proxy/upstream-error.ts";

describe("usage from answers", () => {
  test("OpenAI chat answer: cached tokens reported beside prompt tokens, not added", () => {
    const body = JSON.stringify({
      id: "x",
      choices: [{ message: { content: 'the word "usage": {"prompt_tokens": 999}' } }],
      usage: { prompt_tokens: 20, completion_tokens: 5, total_tokens: 25, prompt_tokens_details: { cached_tokens: 8 } },
    });
    expect(usageFromJsonText(body)).toEqual({ promptTokens: 20, completionTokens: 5, cachedTokens: 8, cacheWriteTokens: 0 });
  });

  test("Python-style spacing, DeepSeek cache hits, Responses API names", () => {
    expect(usageFromJsonText('{"usage": {"prompt_tokens": 3, "completion_tokens": 2, "prompt_cache_hit_tokens": 1}}')).toEqual({
      promptTokens: 3,
      completionTokens: 2,
      cachedTokens: 1,
      cacheWriteTokens: 0,
    });
    expect(usageFromObject({ input_tokens: 4, output_tokens: 6, input_tokens_details: { cached_tokens: 2 } })).toEqual({
      promptTokens: 4,
      completionTokens: 6,
      cachedTokens: 2,
      cacheWriteTokens: 0,
    });
  });

  test("embeddings usage has no completion tokens", () => {
    expect(usageFromJsonText('{"data":[],"usage":{"prompt_tokens":7,"total_tokens":7}}')).toEqual({ promptTokens: 7, completionTokens: 0, cachedTokens: 0, cacheWriteTokens: 0 });
  });

  test("no usage, usage null, or a usage text inside a string", () => {
    expect(usageFromJsonText('{"choices":[]}')).toBeNull();
    expect(usageFromJsonText('{"usage":null}')).toBeNull();
    expect(usageFromJsonText('{"content":"\\"usage\\": {\\"prompt_tokens\\": 1}"}')).toBeNull();
  });
});

describe("backend errors in OpenAI form", () => {
  test("OpenAI-shaped bodies pass unchanged", () => {
    const body = '{"error":{"message":"bad","type":"invalid_request_error","param":null,"code":"x"}}';
    expect(openAiErrorBody(400, body, "b")).toBe(body);
  });

  test("old vLLM, FastAPI, llama.cpp and plain-text errors are wrapped", () => {
    expect(JSON.parse(openAiErrorBody(400, '{"object":"error","message":"too long","type":"BadRequestError","param":null,"code":400}', "b"))).toEqual({
      error: { message: "too long", type: "BadRequestError", param: null, code: "400" },
    });
    expect(JSON.parse(openAiErrorBody(422, '{"detail":[{"loc":["body"],"msg":"field required"}]}', "b")).error.message).toContain("field required");
    expect(JSON.parse(openAiErrorBody(503, '{"error":"Loading model"}', "b")).error).toEqual({
      message: "Loading model",
      type: "server_error",
      param: null,
      code: "upstream_http_503",
    });
    expect(JSON.parse(openAiErrorBody(502, "<html>Bad Gateway</html>", "b")).error.message).toBe("<html>Bad Gateway</html>");
    expect(JSON.parse(openAiErrorBody(500, "", "vllm-a")).error.message).toBe("backend vllm-a answered HTTP 500");
  });
});

describe("Anthropic usage", () => {
  test("input_tokens leaves the cache out: the prompt is input + cache reads + cache writes", () => {
    const body = '{"id":"msg_1","type":"message","content":[],"usage":{"input_tokens":10,"cache_creation_input_tokens":200,"cache_read_input_tokens":3000,"output_tokens":42}}';
    expect(usageFromJsonText(body)).toEqual({ promptTokens: 3210, completionTokens: 42, cachedTokens: 3000, cacheWriteTokens: 200 });
  });

  test("null cache fields count as 0", () => {
    expect(usageFromObject({ input_tokens: 5, output_tokens: 1, cache_read_input_tokens: null, cache_creation_input_tokens: null })).toEqual({
      promptTokens: 5,
      completionTokens: 1,
      cachedTokens: 0,
      cacheWriteTokens: 0,
    });
  });

  test("a stream: message_start's input counts stay, message_delta's output count replaces the start's", () => {
    let u = mergeAnthropicUsage(null, { input_tokens: 12, cache_read_input_tokens: 100, cache_creation_input_tokens: 0, output_tokens: 1 });
    expect(u).toEqual({ promptTokens: 112, completionTokens: 1, cachedTokens: 100, cacheWriteTokens: 0 });
    u = mergeAnthropicUsage(u, { output_tokens: 57 });
    expect(u).toEqual({ promptTokens: 112, completionTokens: 57, cachedTokens: 100, cacheWriteTokens: 0 });
    // newer API versions repeat the input counts in message_delta
    u = mergeAnthropicUsage(u, { input_tokens: 12, cache_read_input_tokens: 100, cache_creation_input_tokens: 8, output_tokens: 60 });
    expect(u).toEqual({ promptTokens: 120, completionTokens: 60, cachedTokens: 100, cacheWriteTokens: 8 });
  });

  test("nothing usable keeps what was there", () => {
    const u = { promptTokens: 1, completionTokens: 2, cachedTokens: 0, cacheWriteTokens: 0 };
    expect(mergeAnthropicUsage(u, null)).toBe(u);
    expect(mergeAnthropicUsage(null, { foo: 1 })).toBeNull();
  });
});
