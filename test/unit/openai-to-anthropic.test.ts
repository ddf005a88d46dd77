import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { DEFAULT_MAX_TOKENS, openAiToAnthropic } from "../../src/providers/openai-to-anthropic.ts";
import { TranslationError, type EncodeContext } from "../../src/providers/types.ts";

const fixture = (name: string): string => readFileSync(new URL(`../fixtures/anthropic/${name}`, import.meta.url), "utf8");
const json = (name: string): Record<string, unknown> => JSON.parse(fixture(name)) as Record<string, unknown>;

const CTX: EncodeContext = {
  upstreamModel: "claude-sonnet-4-5-20250929",
  clientModel: "claude-alias",
  stream: false,
  created: 1_764_000_000,
  includeUsage: false,
};

type Json = Record<string, unknown>;

function encode(body: Json, ctx: EncodeContext = CTX): Json {
  return openAiToAnthropic.encodeRequest({ model: "claude-alias", ...body }, ctx).body;
}

const user = (content: unknown): Json => ({ role: "user", content });

/** The TranslationError `fn` throws (fails the test when it throws nothing or something else). */
function translationError(fn: () => unknown): TranslationError {
  try {
    fn();
  } catch (e) {
    if (e instanceof TranslationError) return e;
    throw e;
  }
  throw new Error("expected a TranslationError");
}

describe("encodeRequest: OpenAI chat request → Anthropic Messages request", () => {
  test("a multi-turn tool conversation becomes the documented Messages request", () => {
    const req = openAiToAnthropic.encodeRequest(json("request-tools.openai.json"), { ...CTX, stream: true, includeUsage: true });
    expect(req.path).toBe("/v1/messages");
    expect(req.body).toEqual(json("request-tools.anthropic.json"));
  });

  test("the smallest request: the upstream model, the default max_tokens, a plain user turn", () => {
    expect(encode({ messages: [user("Hello")] })).toEqual({ model: "claude-sonnet-4-5-20250929", max_tokens: DEFAULT_MAX_TOKENS, messages: [user("Hello")] });
    expect(DEFAULT_MAX_TOKENS).toBe(4096);
  });

  test("system and developer messages, anywhere, become `system` in order; one plain one stays a string", () => {
    expect(encode({ messages: [{ role: "system", content: "Be brief." }, user("Hi")] }).system).toBe("Be brief.");
    expect(encode({ messages: [{ role: "developer", content: [{ type: "text", text: "A" }, { type: "text", text: "B" }] }, user("Hi"), { role: "system", content: "C" }] }).system).toEqual([
      { type: "text", text: "A" },
      { type: "text", text: "B" },
      { type: "text", text: "C" },
    ]);
    // a cache breakpoint needs the block form
    expect(encode({ messages: [{ role: "system", content: [{ type: "text", text: "Long", cache_control: { type: "ephemeral" } }] }, user("Hi")] }).system).toEqual([
      { type: "text", text: "Long", cache_control: { type: "ephemeral" } },
    ]);
    expect(translationError(() => encode({ messages: [{ role: "system", content: [{ type: "image_url", image_url: { url: "https://x/y.png" } }] }, user("Hi")] })).param).toBe(
      "messages[0].content[0]",
    );
  });

  test("consecutive messages of one role are merged, as Anthropic requires alternation", () => {
    const body = encode({
      messages: [user("one"), user([{ type: "text", text: "two" }]), { role: "assistant", content: "a" }, { role: "assistant", content: [{ type: "text", text: "b" }] }, user("three")],
    });
    expect(body.messages).toEqual([
      { role: "user", content: [{ type: "text", text: "one" }, { type: "text", text: "two" }] },
      { role: "assistant", content: [{ type: "text", text: "a" }, { type: "text", text: "b" }] },
      user("three"),
    ]);
  });

  test("images: data: URLs become base64 sources, http(s) URLs url sources, anything else a 400 naming the part", () => {
    const body = encode({
      messages: [
        user([
          { type: "text", text: "What is in these?" },
          { type: "image_url", image_url: { url: "data:image/png;base64,iVBORw0KGgo=", detail: "high" } },
          { type: "image_url", image_url: { url: "https://upload.example/cat.jpg" } },
        ]),
      ],
    });
    expect(body.messages).toEqual([
      user([
        { type: "text", text: "What is in these?" },
        { type: "image", source: { type: "base64", media_type: "image/png", data: "iVBORw0KGgo=" } },
        { type: "image", source: { type: "url", url: "https://upload.example/cat.jpg" } },
      ]),
    ]);
    for (const url of ["ftp://x/y.png", "data:image/svg+xml,<svg/>", 42]) {
      const e = translationError(() => encode({ messages: [user([{ type: "text", text: "x" }, { type: "image_url", image_url: { url } }])] }));
      expect(e.param).toBe("messages[0].content[1].image_url.url");
    }
  });

  test("a PDF given inline becomes a document block; audio input and file ids are refused", () => {
    const pdf = { type: "file", file: { filename: "a.pdf", file_data: "data:application/pdf;base64,JVBERi0=" } };
    expect(encode({ messages: [user([pdf])] }).messages).toEqual([user([{ type: "document", source: { type: "base64", media_type: "application/pdf", data: "JVBERi0=" } }])]);
    expect(translationError(() => encode({ messages: [user([{ type: "file", file: { file_id: "file-abc" } }])] })).param).toBe("messages[0].content[0]");
    expect(translationError(() => encode({ messages: [user([{ type: "input_audio", input_audio: { data: "", format: "wav" } }])] })).param).toBe("messages[0].content[0]");
  });

  test("assistant tool calls become tool_use blocks with parsed input; tool messages become tool_result blocks", () => {
    const body = encode({
      messages: [
        user("Weather?"),
        { role: "assistant", content: "Checking.", tool_calls: [{ id: "call_1", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } }] },
        { role: "tool", tool_call_id: "call_1", content: "18C" },
      ],
    });
    expect(body.messages).toEqual([
      user("Weather?"),
      {
        role: "assistant",
        content: [
          { type: "text", text: "Checking." },
          { type: "tool_use", id: "call_1", name: "get_weather", input: { city: "Paris" } },
        ],
      },
      { role: "user", content: [{ type: "tool_result", tool_use_id: "call_1", content: "18C" }] },
    ]);
  });

  test("tool call arguments that are not a JSON object are a 400 naming them", () => {
    for (const args of ["{not json", "[1,2]", "5"]) {
      const e = translationError(() =>
        encode({ messages: [user("x"), { role: "assistant", content: null, tool_calls: [{ id: "c", type: "function", function: { name: "f", arguments: args } }] }] }),
      );
      expect(e.param).toBe("messages[1].tool_calls[0].function.arguments");
    }
    expect(translationError(() => encode({ messages: [user("x"), { role: "tool", content: "r" }] })).param).toBe("messages[1].tool_call_id");
  });

  test("a final assistant message (a prefill) loses its trailing whitespace", () => {
    expect(encode({ messages: [user("Say hi"), { role: "assistant", content: "Hi \n" }] }).messages).toEqual([user("Say hi"), { role: "assistant", content: "Hi" }]);
  });

  test("max_completion_tokens wins over max_tokens; a bad value is a 400 naming the field", () => {
    expect(encode({ messages: [user("x")], max_tokens: 100 }).max_tokens).toBe(100);
    expect(encode({ messages: [user("x")], max_tokens: 100, max_completion_tokens: 200 }).max_tokens).toBe(200);
    expect(encode({ messages: [user("x")], max_tokens: null }).max_tokens).toBe(4096);
    expect(translationError(() => encode({ messages: [user("x")], max_completion_tokens: 0 })).param).toBe("max_completion_tokens");
    expect(translationError(() => encode({ messages: [user("x")], max_tokens: 1.5 })).param).toBe("max_tokens");
  });

  test("stop (a string or a list) becomes stop_sequences", () => {
    expect(encode({ messages: [user("x")], stop: "END" }).stop_sequences).toEqual(["END"]);
    expect(encode({ messages: [user("x")], stop: ["a", "b"] }).stop_sequences).toEqual(["a", "b"]);
    expect(encode({ messages: [user("x")], stop: [] }).stop_sequences).toBeUndefined();
    expect(translationError(() => encode({ messages: [user("x")], stop: [1] })).param).toBe("stop");
  });

  test("temperature is clamped to Anthropic's 0..1; top_p passes, except the no-op 1", () => {
    expect(encode({ messages: [user("x")], temperature: 0.7, top_p: 0.9 })).toMatchObject({ temperature: 0.7, top_p: 0.9 });
    expect(encode({ messages: [user("x")], temperature: 1.6 }).temperature).toBe(1);
    expect(encode({ messages: [user("x")], temperature: 0 }).temperature).toBe(0);
    expect("top_p" in encode({ messages: [user("x")], top_p: 1 })).toBe(false);
    expect(translationError(() => encode({ messages: [user("x")], temperature: "hot" })).param).toBe("temperature");
  });

  test("tools become Anthropic tools; tool_choice and parallel_tool_calls map to Anthropic's tool_choice", () => {
    const tools = [{ type: "function", function: { name: "f", description: "does f", parameters: { type: "object", properties: { a: { type: "string" } } } } }];
    expect(encode({ messages: [user("x")], tools }).tools).toEqual([{ name: "f", description: "does f", input_schema: { type: "object", properties: { a: { type: "string" } } } }]);
    expect("tool_choice" in encode({ messages: [user("x")], tools })).toBe(false);
    const choice = (tool_choice: unknown, parallel_tool_calls?: boolean): unknown => encode({ messages: [user("x")], tools, tool_choice, parallel_tool_calls }).tool_choice;
    expect(choice("auto")).toEqual({ type: "auto" });
    expect(choice("none")).toEqual({ type: "none" });
    expect(choice("required")).toEqual({ type: "any" });
    expect(choice({ type: "function", function: { name: "f" } })).toEqual({ type: "tool", name: "f" });
    expect(choice(undefined, false)).toEqual({ type: "auto", disable_parallel_tool_use: true });
    expect(choice("required", false)).toEqual({ type: "any", disable_parallel_tool_use: true });
    expect(choice("none", false)).toEqual({ type: "none" });
    expect(translationError(() => choice("sometimes")).param).toBe("tool_choice");
    // without tools a tool_choice means nothing and is not sent
    expect("tool_choice" in encode({ messages: [user("x")], tool_choice: "auto" })).toBe(false);
    expect(translationError(() => encode({ messages: [user("x")], tools: [{ type: "custom", custom: { name: "g" } }] })).param).toBe("tools[0].type");
  });

  test("response_format json_schema becomes output_config.format; json_object and text are left out", () => {
    const schema = { type: "object", properties: { name: { type: "string" } }, required: ["name"], additionalProperties: false };
    expect(encode({ messages: [user("x")], response_format: { type: "json_schema", json_schema: { name: "person", strict: true, schema } } }).output_config).toEqual({
      format: { type: "json_schema", schema },
    });
    expect("output_config" in encode({ messages: [user("x")], response_format: { type: "json_object" } })).toBe(false);
    expect("output_config" in encode({ messages: [user("x")], response_format: { type: "text" } })).toBe(false);
    expect(translationError(() => encode({ messages: [user("x")], response_format: { type: "xml" } })).param).toBe("response_format.type");
  });

  test("user (or safety_identifier) becomes metadata.user_id; stream follows the client", () => {
    expect(encode({ messages: [user("x")], user: "u1" }).metadata).toEqual({ user_id: "u1" });
    expect(encode({ messages: [user("x")], safety_identifier: "h1" }).metadata).toEqual({ user_id: "h1" });
    expect(encode({ messages: [user("x")] }, { ...CTX, stream: true }).stream).toBe(true);
    expect("stream" in encode({ messages: [user("x")], stream: false })).toBe(false);
  });

  test("top_k and thinking pass under Anthropic's names; fields of no meaning there are dropped", () => {
    const body = encode({
      messages: [user("x")],
      top_k: 40,
      thinking: { type: "enabled", budget_tokens: 2048 },
      stream_options: { include_usage: true },
      seed: 1,
      presence_penalty: 1,
      frequency_penalty: 1,
      metadata: { tag: "a" },
      store: true,
      service_tier: "flex",
      reasoning_effort: "high",
      logit_bias: {},
      n: 1,
      logprobs: false,
      something_new: true,
    });
    expect(body).toEqual({ model: CTX.upstreamModel, max_tokens: 4096, messages: [user("x")], top_k: 40, thinking: { type: "enabled", budget_tokens: 2048 } });
  });

  test.each([
    ["n", { n: 2 }],
    ["logprobs", { logprobs: true }],
    ["top_logprobs", { top_logprobs: 3 }],
    ["logit_bias", { logit_bias: { "50256": -100 } }],
    ["audio", { audio: { voice: "alloy", format: "wav" }, modalities: ["text", "audio"] }],
    ["modalities", { modalities: ["text", "audio"] }],
    ["web_search_options", { web_search_options: {} }],
    ["functions", { functions: [{ name: "f" }] }],
  ])("%s, which Anthropic cannot honour, is a 400 naming it", (param, extra) => {
    expect(translationError(() => encode({ messages: [user("x")], ...extra })).param).toBe(param);
  });

  test("bad messages are 400s naming the message", () => {
    expect(translationError(() => encode({ messages: "hi" })).param).toBe("messages");
    expect(translationError(() => encode({ messages: [{ role: "system", content: "only a system prompt" }] })).param).toBe("messages");
    expect(translationError(() => encode({ messages: [user("x"), { role: "robot", content: "beep" }] })).param).toBe("messages[1].role");
    expect(translationError(() => encode({ messages: [user("x"), { role: "function", name: "f", content: "r" }] })).param).toBe("messages[1].role");
    expect(translationError(() => encode({ messages: [user([{ type: "video", video: {} }])] })).param).toBe("messages[0].content[0].type");
  });
});

describe("decodeResponse: Anthropic message → OpenAI chat.completion", () => {
  test("text blocks are joined; usage counts cache reads and writes as prompt tokens", () => {
    const d = openAiToAnthropic.decodeResponse(fixture("message-text.json"), CTX);
    expect(JSON.parse(d.body)).toEqual({
      id: "msg_01XFDUDYJgAACzvnptvVoYEL",
      object: "chat.completion",
      created: CTX.created,
      model: "claude-alias",
      choices: [{ index: 0, message: { role: "assistant", content: "Hello! How can I help you today?", refusal: null }, logprobs: null, finish_reason: "stop" }],
      usage: { prompt_tokens: 12 + 2048 + 1024, completion_tokens: 9, total_tokens: 12 + 2048 + 1024 + 9, prompt_tokens_details: { cached_tokens: 1024 } },
    });
    expect(d.usage).toEqual({ promptTokens: 3084, completionTokens: 9, cachedTokens: 1024, cacheWriteTokens: 2048 });
    expect(d.text).toBe("Hello! How can I help you today?");
  });

  test("tool_use blocks become tool_calls with JSON arguments", () => {
    const d = openAiToAnthropic.decodeResponse(fixture("message-tool-use.json"), CTX);
    const choice = JSON.parse(d.body).choices[0];
    expect(choice.finish_reason).toBe("tool_calls");
    expect(choice.message.content).toBe("I'll check the weather in both cities.");
    expect(choice.message.tool_calls).toEqual([
      { id: "toolu_01A09q90qw90lq917835lq9", type: "function", function: { name: "get_weather", arguments: '{"location":"San Francisco, CA","unit":"celsius"}' } },
      { id: "toolu_01B19q90qw90lq917835lq8", type: "function", function: { name: "get_time", arguments: "{}" } },
    ]);
    expect(d.text).toBe('I\'ll check the weather in both cities.{"location":"San Francisco, CA","unit":"celsius"}{}');
  });

  test("an answer of tool calls only has content null, as OpenAI sends it", () => {
    const msg = json("message-tool-use.json");
    msg.content = (msg.content as Json[]).filter((b) => b.type === "tool_use");
    const choice = JSON.parse(openAiToAnthropic.decodeResponse(JSON.stringify(msg), CTX).body).choices[0];
    expect(choice.message.content).toBeNull();
    expect(choice.message.tool_calls).toHaveLength(2);
  });

  test("a tool call round trip: the decoded call, sent back, is the tool_use Anthropic made", () => {
    const anthropic = json("message-tool-use.json");
    const assistant = JSON.parse(openAiToAnthropic.decodeResponse(fixture("message-tool-use.json"), CTX).body).choices[0].message;
    const results = assistant.tool_calls.map((c: { id: string }) => ({ role: "tool", tool_call_id: c.id, content: "ok" }));
    const again = encode({ messages: [user("Weather?"), assistant, ...results] });
    expect((again.messages as Json[])[1]).toEqual({ role: "assistant", content: anthropic.content });
    expect((again.messages as Json[])[2]).toEqual({
      role: "user",
      content: [
        { type: "tool_result", tool_use_id: "toolu_01A09q90qw90lq917835lq9", content: "ok" },
        { type: "tool_result", tool_use_id: "toolu_01B19q90qw90lq917835lq8", content: "ok" },
      ],
    });
  });

  test("thinking becomes reasoning_content; redacted thinking is left out", () => {
    const d = openAiToAnthropic.decodeResponse(fixture("message-thinking.json"), CTX);
    const message = JSON.parse(d.body).choices[0].message;
    expect(message).toEqual({ role: "assistant", content: "27 × 453 = 12,231", reasoning_content: "The user wants 27 * 453. 27 * 453 = 12231.", refusal: null });
    expect(d.usage).toEqual({ promptTokens: 50, completionTokens: 120, cachedTokens: 0, cacheWriteTokens: 0 });
  });

  test.each([
    ["end_turn", "stop"],
    ["stop_sequence", "stop"],
    ["max_tokens", "length"],
    ["model_context_window_exceeded", "length"],
    ["tool_use", "tool_calls"],
    ["refusal", "content_filter"],
    ["pause_turn", "stop"],
    [null, "stop"],
  ])("stop_reason %p → finish_reason %s", (stop, finish) => {
    const msg = { ...json("message-text.json"), stop_reason: stop };
    expect(JSON.parse(openAiToAnthropic.decodeResponse(JSON.stringify(msg), CTX).body).choices[0].finish_reason).toBe(finish);
  });

  test("an answer without usage has none (the gateway estimates from the text)", () => {
    const { usage, ...msg } = json("message-text.json");
    void usage;
    const d = openAiToAnthropic.decodeResponse(JSON.stringify(msg), CTX);
    expect(d.usage).toBeNull();
    expect("usage" in JSON.parse(d.body)).toBe(false);
  });

  test("an answer that is not an Anthropic message is a TranslationError without param (a 502)", () => {
    for (const text of ["<html>oops</html>", '{"type":"error","error":{"type":"api_error","message":"x"}}', "[]"]) {
      expect(translationError(() => openAiToAnthropic.decodeResponse(text, CTX)).param).toBeNull();
    }
  });
});

describe("decodeError: Anthropic errors → OpenAI error bodies", () => {
  const cases = JSON.parse(fixture("errors.json")) as { status: number; body: { error: { message: string } }; openai: { type: string; code: string } }[];

  test.each(cases.map((c) => [c.status, c] as const))("HTTP %d", (status, c) => {
    const out = JSON.parse(openAiToAnthropic.decodeError(status, JSON.stringify(c.body), "claude"));
    expect(out).toEqual({ error: { message: c.body.error.message, type: c.openai.type, param: null, code: c.openai.code } });
  });

  test("a body of another shape (a proxy's HTML page, an OpenAI-style body) is read as every backend error is", () => {
    expect(JSON.parse(openAiToAnthropic.decodeError(502, "<html>Bad Gateway</html>", "claude"))).toEqual({
      error: { message: "<html>Bad Gateway</html>", type: "server_error", param: null, code: "upstream_http_502" },
    });
    expect(JSON.parse(openAiToAnthropic.decodeError(503, "", "claude")).error.message).toBe("backend claude answered HTTP 503");
    expect(JSON.parse(openAiToAnthropic.decodeError(400, '{"error":{"message":"bad","type":"invalid_request_error","code":"x"}}', "claude"))).toEqual({
      error: { message: "bad", type: "invalid_request_error", param: null, code: "x" },
    });
  });
});
