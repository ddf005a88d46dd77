// The Anthropic front door over OpenAI-compatible backends, checked against documented
// wire examples (fixtures in test/fixtures/anthropic-front/, built from the formats vLLM
// and OpenAI document) and against the Anthropic SDK's own stream accumulator.

import { describe, expect, test } from "bun:test";
import Anthropic from "@anthropic-ai/sdk";
import { GatewayError } from "../../src/errors.ts";
import { anthropicErrorType, anthropicGatewayErrorBody, anthropicToOpenAi } from "../../src/providers/anthropic-to-openai.ts";
import { type OpenAiDeltaScan, scanOpenAiDelta } from "../../src/providers/openai-delta-scan.ts";
import { type EncodeContext, type StreamTranslator, TranslationError } from "../../src/providers/types.ts";

const FIX = `${import.meta.dir}/../fixtures/anthropic-front`;
const enc = new TextEncoder();
const dec = new TextDecoder();
const fixture = (name: string) => Bun.file(`${FIX}/${name}`).text();
const fixtureJson = async (name: string) => JSON.parse(await fixture(name)) as Record<string, unknown>;

function ctx(stream = false): EncodeContext {
  return { upstreamModel: "Qwen/Qwen3-32B", clientModel: "qwen3-coder", stream, created: 1764000000, includeUsage: false };
}

type Json = Record<string, any>;

function encode(body: Json, stream = false): Json {
  const r = anthropicToOpenAi.encodeRequest(body, ctx(stream));
  expect(r.path).toBe("/v1/chat/completions");
  return r.body as Json;
}

function base(extra: Json = {}): Json {
  return { model: "claude-sonnet-4-5", max_tokens: 100, messages: [{ role: "user", content: "Hi" }], ...extra };
}

function encodeError(body: Json): TranslationError {
  try {
    anthropicToOpenAi.encodeRequest(body, ctx());
  } catch (e) {
    expect(e).toBeInstanceOf(TranslationError);
    return e as TranslationError;
  }
  throw new Error("expected a TranslationError");
}

/** Feed `input` split at the given byte offsets; return what the client gets. */
function translate(input: string | Uint8Array, cuts: number[] = [], t: StreamTranslator = anthropicToOpenAi.streamTranslator(ctx(true))): string {
  const bytes = typeof input === "string" ? enc.encode(input) : input;
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const c of [...cuts, bytes.length]) {
    out.push(t.push(bytes.subarray(prev, c)));
    prev = c;
  }
  out.push(t.flush());
  return dec.decode(Buffer.concat(out));
}

/** Deterministic split points (a small LCG), so a failure can be replayed. */
function randomCuts(n: number, seed: number): number[] {
  let s = seed;
  const cuts: number[] = [];
  let at = 0;
  for (;;) {
    s = (s * 1103515245 + 12345) % 2147483648;
    at += 1 + (s % 97);
    if (at >= n) return cuts;
    cuts.push(at);
  }
}

/** The events of a translated stream, parsed. */
function events(sse: string): { event: string; data: Json }[] {
  return sse
    .split("\n\n")
    .filter((e) => e !== "")
    .map((e) => {
      const [ev, data] = e.split("\n");
      expect(ev!.startsWith("event: ")).toBe(true);
      expect(data!.startsWith("data: ")).toBe(true);
      const d = JSON.parse(data!.slice(6)) as Json;
      expect(d.type).toBe(ev!.slice(7)); // the SDK dispatches on the event line, and reads the type
      return { event: ev!.slice(7), data: d };
    });
}

function sdkClient(body: string, status = 200): Anthropic {
  const contentType = body.startsWith("event:") ? "text/event-stream" : "application/json";
  return new Anthropic({
    apiKey: "sk-test",
    baseURL: "http://gateway.test",
    maxRetries: 0,
    fetch: (async () => new Response(body, { status, headers: { "content-type": contentType } })) as unknown as typeof fetch,
  });
}

/** What the Anthropic SDK makes of a translated stream: its own accumulator's final message. */
function sdkFinalMessage(sse: string) {
  return sdkClient(sse)
    .messages.stream({ model: "qwen3-coder", max_tokens: 100, messages: [{ role: "user", content: "Hi" }] })
    .finalMessage();
}

describe("encodeRequest: Anthropic Messages → OpenAI chat completions", () => {
  test("a Claude-Code-like request: system first, tool results right after the calls, the turn's text after them", async () => {
    const body = encode(await fixtureJson("claude-code-request.json"), true);
    expect(body.model).toBe("Qwen/Qwen3-32B");
    expect(body.max_tokens).toBe(32000);
    expect(body.max_completion_tokens).toBeUndefined();
    expect(body.temperature).toBe(1);
    expect(body.user).toBe("user_abc_account__session_123");
    expect(body.stream).toBe(true);
    expect(body.stream_options).toEqual({ include_usage: true });
    expect(body.thinking).toBeUndefined();
    expect(body.messages).toEqual([
      { role: "system", content: "You are Claude Code, Anthropic's official CLI for Claude.\n\nWorking directory: /home/dev/app" },
      { role: "user", content: "<system-reminder>\nAs you answer, use the tools.\n</system-reminder>\n\nWhat is in /etc/hosts and how many files are here?" },
      {
        role: "assistant",
        content: "I'll look.",
        tool_calls: [
          { id: "chatcmpl-tool-5e4d3c2b1a", type: "function", function: { name: "Read", arguments: '{"file_path":"/etc/hosts"}' } },
          { id: "functions.Bash:1", type: "function", function: { name: "Bash", arguments: '{"command":"ls | wc -l","description":"Count files"}' } },
        ],
      },
      { role: "tool", tool_call_id: "chatcmpl-tool-5e4d3c2b1a", content: "     1\t127.0.0.1 localhost" },
      { role: "tool", tool_call_id: "functions.Bash:1", content: "Error: ls: permission denied" },
      { role: "user", content: "Also, keep it short." },
    ]);
    expect(body.tools).toEqual([
      {
        type: "function",
        function: {
          name: "Bash",
          description: "Executes a bash command",
          parameters: {
            type: "object",
            properties: { command: { type: "string" }, description: { type: "string" } },
            required: ["command"],
            additionalProperties: false,
            $schema: "http://json-schema.org/draft-07/schema#",
          },
        },
      },
      {
        type: "function",
        function: { name: "Read", description: "Reads a file", parameters: { type: "object", properties: { file_path: { type: "string" } }, required: ["file_path"] } },
      },
    ]);
    // cache_control is nowhere in the OpenAI request
    expect(JSON.stringify(body)).not.toContain("cache_control");
  });

  test("a round trip: the tool_use id the client got back comes back unchanged as tool_call_id", async () => {
    const answer = JSON.parse(anthropicToOpenAi.decodeResponse(await fixture("vllm-chat-completion-tools.json"), ctx()).body) as Json;
    const toolUse = answer.content.find((b: Json) => b.type === "tool_use");
    const next = encode(
      base({
        messages: [
          { role: "user", content: "Read /etc/hosts" },
          { role: "assistant", content: answer.content },
          { role: "user", content: [{ type: "tool_result", tool_use_id: toolUse.id, content: "127.0.0.1 localhost" }] },
        ],
      }),
    );
    expect(next.messages[1].tool_calls[0].id).toBe("chatcmpl-tool-5e4d3c2b1a");
    expect(next.messages[1].content).toBe("Let me read it."); // the thinking block is dropped
    expect(next.messages[2]).toEqual({ role: "tool", tool_call_id: "chatcmpl-tool-5e4d3c2b1a", content: "127.0.0.1 localhost" });
  });

  test("system as a string; a system message between turns stays in place", () => {
    const body = encode(base({ system: "Be brief.", messages: [{ role: "user", content: "a" }, { role: "system", content: "Now in French." }, { role: "user", content: "b" }] }));
    expect(body.messages).toEqual([
      { role: "system", content: "Be brief." },
      { role: "user", content: "a" },
      { role: "system", content: "Now in French." },
      { role: "user", content: "b" },
    ]);
  });

  test("images become image_url parts: base64 as a data: URL, url as is", () => {
    const body = encode(
      base({
        messages: [
          {
            role: "user",
            content: [
              { type: "image", source: { type: "base64", media_type: "image/png", data: "iVBORw0KGgo=" } },
              { type: "image", source: { type: "url", url: "https://example.com/cat.jpg" } },
              { type: "text", text: "What are these?" },
            ],
          },
        ],
      }),
    );
    expect(body.messages[0].content).toEqual([
      { type: "image_url", image_url: { url: "data:image/png;base64,iVBORw0KGgo=" } },
      { type: "image_url", image_url: { url: "https://example.com/cat.jpg" } },
      { type: "text", text: "What are these?" },
    ]);
  });

  test("a tool result's images follow the tool messages in a user message, and the tool message says so", () => {
    const body = encode(
      base({
        messages: [
          { role: "user", content: "Look at the screenshot" },
          { role: "assistant", content: [{ type: "tool_use", id: "t1", name: "Read", input: { file_path: "a.png" } }] },
          {
            role: "user",
            content: [
              {
                type: "tool_result",
                tool_use_id: "t1",
                content: [{ type: "image", source: { type: "base64", media_type: "image/png", data: "AAA=" } }],
              },
            ],
          },
        ],
      }),
    );
    expect(body.messages[1]).toEqual({ role: "assistant", content: null, tool_calls: [{ id: "t1", type: "function", function: { name: "Read", arguments: '{"file_path":"a.png"}' } }] });
    expect(body.messages[2].role).toBe("tool");
    expect(body.messages[2].content).toContain("an image from this result follow");
    expect(body.messages[3]).toEqual({ role: "user", content: [{ type: "image_url", image_url: { url: "data:image/png;base64,AAA=" } }] });
  });

  test("text documents are inlined; consecutive user turns merge, as Anthropic merges them", () => {
    const body = encode(
      base({
        messages: [
          { role: "user", content: [{ type: "document", title: "notes.txt", source: { type: "text", media_type: "text/plain", data: "line 1" } }] },
          { role: "user", content: "Summarize." },
        ],
      }),
    );
    expect(body.messages).toEqual([{ role: "user", content: "notes.txt\n\nline 1\n\nSummarize." }]);
  });

  test("an assistant turn of thinking only disappears, and the user turns around it merge", () => {
    const body = encode(
      base({
        messages: [
          { role: "user", content: "a" },
          { role: "assistant", content: [{ type: "redacted_thinking", data: "xyz" }] },
          { role: "user", content: "b" },
          { role: "assistant", content: "The answer is (" },
        ],
      }),
    );
    expect(body.messages).toEqual([
      { role: "user", content: "a\n\nb" },
      { role: "assistant", content: "The answer is (" },
    ]);
  });

  test("tool_choice: auto, any → required, tool → function, none; disable_parallel_tool_use → parallel_tool_calls false", () => {
    const tools = [{ name: "f", input_schema: { type: "object", properties: {} } }];
    expect(encode(base({ tools, tool_choice: { type: "auto" } })).tool_choice).toBe("auto");
    expect(encode(base({ tools, tool_choice: { type: "any" } })).tool_choice).toBe("required");
    expect(encode(base({ tools, tool_choice: { type: "none" } })).tool_choice).toBe("none");
    const named = encode(base({ tools, tool_choice: { type: "tool", name: "f", disable_parallel_tool_use: true } }));
    expect(named.tool_choice).toEqual({ type: "function", function: { name: "f" } });
    expect(named.parallel_tool_calls).toBe(false);
    expect(encode(base({ tools, tool_choice: { type: "auto" } })).parallel_tool_calls).toBeUndefined();
    // OpenAI refuses tool_choice without tools
    expect(encode(base({ tool_choice: { type: "any" } })).tool_choice).toBeUndefined();
    expect(encode(base({ tools: [{ name: "g", type: "custom", input_schema: { type: "object" } }] })).tools[0].function.name).toBe("g");
  });

  test("sampling and limits: stop_sequences → stop, top_k passed through, output_config.format → response_format", () => {
    const body = encode(
      base({
        stop_sequences: ["\n\nHuman:", "END"],
        temperature: 0.2,
        top_p: 0.9,
        top_k: 40,
        output_config: { format: { type: "json_schema", schema: { type: "object", properties: { a: { type: "string" } } } } },
      }),
    );
    expect(body.stop).toEqual(["\n\nHuman:", "END"]);
    expect([body.temperature, body.top_p, body.top_k]).toEqual([0.2, 0.9, 40]);
    expect(body.response_format).toEqual({ type: "json_schema", json_schema: { name: "output", schema: { type: "object", properties: { a: { type: "string" } } }, strict: true } });
    expect(encode(base()).stream).toBeUndefined();
    expect(encode(base({ thinking: { type: "enabled", budget_tokens: 2048 } })).thinking).toBeUndefined();
  });

  test("what an OpenAI backend cannot do is refused with the field at fault", () => {
    const server = encodeError(base({ tools: [{ type: "web_search_20250305", name: "web_search", max_uses: 5 }] }));
    expect(server.param).toBe("tools");
    expect(server.message).toContain("web_search");
    expect(server.message).toContain("server tool");
    expect(encodeError(base({ max_tokens: 0 })).param).toBe("max_tokens");
    expect(encodeError(base({ messages: [{ role: "tool", content: "x" }] })).param).toBe("messages[0].role");
    expect(encodeError(base({ messages: [{ role: "user", content: [{ type: "document", source: { type: "base64", media_type: "application/pdf", data: "JVBERi0=" } }] }] })).param).toBe(
      "messages[0].content[0].source",
    );
    expect(encodeError(base({ messages: [{ role: "user", content: [{ type: "image", source: { type: "file", file_id: "file_1" } }] }] })).param).toBe("messages[0].content[0].source");
    expect(encodeError(base({ messages: [{ role: "user", content: [{ type: "tool_result", content: "x" }] }] })).param).toBe("messages[0].content[0].tool_use_id");
    expect(encodeError(base({ messages: [{ role: "assistant", content: [{ type: "server_tool_use", id: "s", name: "web_search", input: {} }] }] })).param).toBe(
      "messages[0].content[0]",
    );
    expect(encodeError(base({ tools: [{ name: "f" }] })).param).toBe("tools");
    expect(encodeError(base({ tools: [{ name: "f", input_schema: {} }], tool_choice: { type: "sometimes" } })).param).toBe("tool_choice.type");
    expect(encodeError(base({ stop_sequences: "END" })).param).toBe("stop_sequences");
    expect(encodeError(base({ system: [{ type: "image" }] })).param).toBe("system[0]");
    expect(encodeError(base({ mcp_servers: [{ type: "url", url: "https://mcp.example", name: "x" }] })).param).toBe("mcp_servers");
  });
});

describe("decodeResponse: OpenAI chat.completion → Anthropic Message", () => {
  test("reasoning → thinking first, text, tool_calls → tool_use with the backend's id; usage split into cache reads", async () => {
    const text = await fixture("vllm-chat-completion-tools.json");
    const r = anthropicToOpenAi.decodeResponse(text, ctx());
    expect(JSON.parse(r.body)).toEqual({
      id: "msg_chatcmpl-3c9a1f0e7b6d4c2a",
      type: "message",
      role: "assistant",
      model: "qwen3-coder",
      content: [
        { type: "thinking", thinking: "The user wants to read a file. I will call Read.", signature: "" },
        { type: "text", text: "Let me read it." },
        { type: "tool_use", id: "chatcmpl-tool-5e4d3c2b1a", name: "Read", input: { file_path: "/etc/hosts" } },
      ],
      stop_reason: "tool_use",
      stop_sequence: null,
      usage: { input_tokens: 388, cache_creation_input_tokens: 0, cache_read_input_tokens: 512, output_tokens: 31 },
    });
    expect(r.usage).toEqual({ promptTokens: 900, completionTokens: 31, cachedTokens: 512, cacheWriteTokens: 0 });
    expect(r.text).toContain("Let me read it.");
  });

  test("the Anthropic SDK reads the answer as a Message", async () => {
    const body = anthropicToOpenAi.decodeResponse(await fixture("vllm-chat-completion-tools.json"), ctx()).body;
    const m = await sdkClient(body).messages.create({ model: "qwen3-coder", max_tokens: 100, messages: [{ role: "user", content: "Hi" }] });
    expect(m.content.map((b) => b.type)).toEqual(["thinking", "text", "tool_use"]);
    expect(m.usage.input_tokens).toBe(388);
  });

  test("a stop string vLLM names → stop_sequence with it", async () => {
    const m = JSON.parse(anthropicToOpenAi.decodeResponse(await fixture("vllm-chat-completion-stop-sequence.json"), ctx()).body) as Json;
    expect([m.stop_reason, m.stop_sequence]).toEqual(["stop_sequence", "4"]);
    expect(m.usage).toEqual({ input_tokens: 20, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 9 });
  });

  const completion = (message: Json, finish: string | null, extra: Json = {}) =>
    JSON.stringify({ id: "chatcmpl-x", object: "chat.completion", choices: [{ index: 0, message, finish_reason: finish }], ...extra });
  const decode = (text: string) => JSON.parse(anthropicToOpenAi.decodeResponse(text, ctx()).body) as Json;

  test("finish reasons: stop → end_turn, length → max_tokens, content_filter → refusal, stop with tool calls → tool_use", () => {
    expect(decode(completion({ role: "assistant", content: "hi" }, "stop")).stop_reason).toBe("end_turn");
    expect(decode(completion({ role: "assistant", content: "hi" }, "length")).stop_reason).toBe("max_tokens");
    expect(decode(completion({ role: "assistant", content: "" }, "content_filter")).stop_reason).toBe("refusal");
    const forced = decode(completion({ role: "assistant", content: null, tool_calls: [{ id: "c1", type: "function", function: { name: "f", arguments: "{}" } }] }, "stop"));
    expect(forced.stop_reason).toBe("tool_use");
  });

  test("no empty text block; invalid or empty arguments → input {}; a missing call id is made from the message id", () => {
    const m = decode(
      completion(
        {
          role: "assistant",
          content: "",
          tool_calls: [
            { type: "function", function: { name: "f", arguments: '{"a": 1' } },
            { id: "c2", type: "function", function: { name: "g", arguments: "" } },
          ],
        },
        "tool_calls",
      ),
    );
    expect(m.content).toEqual([
      { type: "tool_use", id: "toolu_chatcmpl-x_0", name: "f", input: {} },
      { type: "tool_use", id: "c2", name: "g", input: {} },
    ]);
  });

  test("no usage from the backend: zeros for the client, null for the gateway (it estimates)", () => {
    const r = anthropicToOpenAi.decodeResponse(completion({ role: "assistant", content: "hello" }, "stop"), ctx());
    expect(r.usage).toBeNull();
    expect(JSON.parse(r.body).usage.output_tokens).toBe(0);
    expect(r.text).toBe("hello");
  });

  test("an answer that cannot be read is a TranslationError", () => {
    expect(() => anthropicToOpenAi.decodeResponse("<html>", ctx())).toThrow(TranslationError);
    expect(() => anthropicToOpenAi.decodeResponse('{"object":"chat.completion","choices":[]}', ctx())).toThrow(TranslationError);
  });
});

describe("streamTranslator: OpenAI chunks → Anthropic events", () => {
  test("a vLLM tool call in many fragments: the SDK's accumulator gets text, the tool input object, tool_use and usage", async () => {
    const sse = translate(await fixture("vllm-tool-call.sse"));
    const ev = events(sse);
    expect(ev.map((e) => e.event)).toEqual([
      "message_start",
      "ping",
      "content_block_start",
      "content_block_delta",
      "content_block_delta",
      "content_block_stop",
      "content_block_start",
      ...Array(12).fill("content_block_delta"),
      "content_block_stop",
      "message_delta",
      "message_stop",
    ]);
    expect(ev[0]!.data.message).toMatchObject({ id: "msg_chatcmpl-7d3f0c2a9b8e4f1d8c6b5a4e3d2c1b0a", model: "qwen3-coder", content: [], stop_reason: null });
    expect(ev[6]!.data).toEqual({
      type: "content_block_start",
      index: 1,
      content_block: { type: "tool_use", id: "chatcmpl-tool-0f9e8d7c6b5a4", name: "get_weather", input: {} },
    });
    const m = await sdkFinalMessage(sse);
    expect(m.id).toBe("msg_chatcmpl-7d3f0c2a9b8e4f1d8c6b5a4e3d2c1b0a");
    expect(m.content).toEqual([
      { type: "text", text: "I'll check the weather for you." },
      { type: "tool_use", id: "chatcmpl-tool-0f9e8d7c6b5a4", name: "get_weather", input: { city: "Zürich", unit: "celsius", note: 'a "quoted" word é\n' } },
    ] as never);
    expect(m.stop_reason).toBe("tool_use");
    expect(m.usage).toMatchObject({ input_tokens: 56, cache_read_input_tokens: 256, output_tokens: 37 });
  });

  test("reasoning, then text, then a tool call whose arguments come whole with its name", async () => {
    const m = await sdkFinalMessage(translate(await fixture("vllm-reasoning-text-tool.sse")));
    expect(m.content).toEqual([
      { type: "thinking", thinking: "The user wants the file list. I should call ls.", signature: "" },
      { type: "text", text: "Listing the directory." },
      { type: "tool_use", id: "chatcmpl-tool-aa11bb22", name: "Bash", input: { command: "ls -la", description: "List files" } },
    ] as never);
    expect(m.stop_reason).toBe("tool_use");
    expect(m.usage).toMatchObject({ input_tokens: 1200, output_tokens: 60, cache_read_input_tokens: 0 });
  });

  test("parallel tool calls (OpenAI, usage:null on every chunk): one tool_use block each, in order", async () => {
    const t = anthropicToOpenAi.streamTranslator(ctx(true));
    const m = await sdkFinalMessage(translate(await fixture("openai-parallel-tools.sse"), [], t));
    expect(m.content).toEqual([
      { type: "tool_use", id: "call_Read0001", name: "Read", input: { file_path: "/src/a.ts" } },
      { type: "tool_use", id: "call_Read0002", name: "Read", input: { file_path: "/src/b.ts" } },
    ] as never);
    expect(m.usage).toMatchObject({ input_tokens: 1024, cache_read_input_tokens: 1024, output_tokens: 44 });
    expect(t.usage).toEqual({ promptTokens: 2048, completionTokens: 44, cachedTokens: 1024, cacheWriteTokens: 0 });
  });

  test("fed byte by byte, in random splits, with CRLF line ends and keep-alive comments: the same events as fed whole", async () => {
    for (const name of ["vllm-tool-call.sse", "vllm-reasoning-text-tool.sse", "openai-parallel-tools.sse", "vllm-error-mid-stream.sse"]) {
      const input = await fixture(name);
      const whole = translate(input);
      const bytes = enc.encode(input);
      expect(translate(bytes, Array.from({ length: bytes.length - 1 }, (_, i) => i + 1))).toBe(whole);
      for (let seed = 1; seed <= 20; seed++) expect(translate(bytes, randomCuts(bytes.length, seed))).toBe(whole);
      const crlf = (": keep-alive\n\n" + input).replaceAll("\n", "\r\n");
      const crlfBytes = enc.encode(crlf);
      expect(translate(crlfBytes, randomCuts(crlfBytes.length, 7))).toBe(whole);
    }
  });

  test("every event goes out with the chunk that completed it, none held back", async () => {
    const t = anthropicToOpenAi.streamTranslator(ctx(true));
    const chunks = (await fixture("vllm-tool-call.sse")).split(/(?<=\n\n)/);
    expect(dec.decode(t.push(enc.encode(chunks[0]!)))).toContain("event: message_start");
    expect(dec.decode(t.push(enc.encode(chunks[1]!)))).toContain('"text_delta","text":"I\'ll check the weather"');
    const half = enc.encode(chunks[2]!);
    expect(t.push(half.subarray(0, 50)).byteLength).toBe(0);
    expect(dec.decode(t.push(half.subarray(50)))).toContain('"text":" for you."');
  });

  test("a stream cut before any finish_reason ends with an error event the SDK raises, not a complete message", async () => {
    const full = await fixture("vllm-tool-call.sse");
    const cut = full.slice(0, full.indexOf('"finish_reason":"tool_calls"') - 200);
    const sse = translate(cut.slice(0, cut.lastIndexOf("\n\n") + 2));
    const last = events(sse).at(-1)!;
    expect(last.event).toBe("error");
    expect(last.data.error.type).toBe("api_error");
    expect(sse).not.toContain("message_stop");
    const err = await sdkFinalMessage(sse).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.APIError);
    // an empty answer too
    expect(events(translate("")).map((e) => e.event)).toEqual(["error"]);
  });

  test("a stream that closes after finish_reason without [DONE] ends normally", async () => {
    const full = await fixture("vllm-tool-call.sse");
    const m = await sdkFinalMessage(translate(full.replace("data: [DONE]\n\n", "")));
    expect(m.stop_reason).toBe("tool_use");
  });

  test("a vLLM error event mid-stream becomes Anthropic's error event, and nothing follows it", async () => {
    const sse = translate(await fixture("vllm-error-mid-stream.sse"));
    const ev = events(sse);
    expect(ev.at(-1)).toEqual({
      event: "error",
      data: { type: "error", error: { type: "api_error", message: "The engine is dead; restart the server.", details: { error_code: "upstream_error" } } },
    });
    expect(ev.filter((e) => e.event === "message_stop")).toHaveLength(0);
    const err = (await sdkFinalMessage(sse).catch((e: unknown) => e)) as InstanceType<typeof Anthropic.APIError>;
    expect(err).toBeInstanceOf(Anthropic.APIError);
    expect(err.type).toBe("api_error");
    const bad = events(translate('data: {"error":{"message":"prompt too long","type":"BadRequestError","code":400}}\n\n'));
    expect(bad[0]!.data.error.type).toBe("invalid_request_error");
  });

  test("errorEvent: the gateway's own failures in Anthropic's terms; nothing once the message is complete", async () => {
    const t = anthropicToOpenAi.streamTranslator(ctx(true));
    t.push(enc.encode('data: {"id":"c","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}\n\n'));
    const timeout = events(dec.decode(t.errorEvent({ code: "upstream_idle_timeout", message: "The backend stopped sending data for too long.", type: "timeout_error" })));
    expect(timeout[0]!.data.error).toEqual({ type: "timeout_error", message: "The backend stopped sending data for too long.", details: { error_code: "upstream_idle_timeout" } });
    const t2 = anthropicToOpenAi.streamTranslator(ctx(true));
    expect(events(dec.decode(t2.errorEvent({ code: "shutting_down", message: "bye", type: "server_error" })))[0]!.data.error.type).toBe("overloaded_error");
    const t3 = anthropicToOpenAi.streamTranslator(ctx(true));
    translate(await fixture("vllm-tool-call.sse"), [], t3);
    expect(t3.errorEvent({ code: "upstream_error", message: "x", type: "server_error" }).byteLength).toBe(0);
  });

  test("a call whose name arrives after its first fragment, and calls without index: arguments are not lost", async () => {
    const chunk = (delta: Json, finish: string | null = null) => `data: ${JSON.stringify({ id: "c9", choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
    const sse = translate(
      chunk({ tool_calls: [{ index: 0, id: "a", function: { arguments: '{"x"' } }] }) +
        chunk({ tool_calls: [{ index: 0, function: { name: "f", arguments: ": 1}" } }] }) +
        chunk({ tool_calls: [{ id: "b", function: { name: "g", arguments: "{}" } }] }) +
        chunk({ tool_calls: [{ id: "c", function: { name: "h" } }] }) +
        chunk({ tool_calls: [{ function: { arguments: '{"y":2}' } }] }) +
        chunk({}, "stop") +
        "data: [DONE]\n\n",
    );
    const m = await sdkFinalMessage(sse);
    expect(m.content).toEqual([
      { type: "tool_use", id: "a", name: "f", input: { x: 1 } },
      { type: "tool_use", id: "b", name: "g", input: {} },
      { type: "tool_use", id: "c", name: "h", input: { y: 2 } },
    ] as never);
    expect(m.stop_reason).toBe("tool_use"); // "stop" with tool calls
  });

  test("calls that all say index 0 but carry different ids are separate tool_use blocks", async () => {
    const chunk = (delta: Json, finish: string | null = null) => `data: ${JSON.stringify({ id: "c8", choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
    const m = await sdkFinalMessage(
      translate(
        chunk({ tool_calls: [{ index: 0, id: "call_1", type: "function", function: { name: "f", arguments: '{"a":1}' } }] }) +
          chunk({ tool_calls: [{ index: 0, id: "call_2", type: "function", function: { name: "f", arguments: '{"a":' } }] }) +
          chunk({ tool_calls: [{ index: 0, function: { arguments: "2}" } }] }) +
          chunk({}, "tool_calls") +
          "data: [DONE]\n\n",
      ),
    );
    expect(m.content).toEqual([
      { type: "tool_use", id: "call_1", name: "f", input: { a: 1 } },
      { type: "tool_use", id: "call_2", name: "f", input: { a: 2 } },
    ] as never);
  });

  test("usage already in the first chunk (vLLM continuous usage stats) goes into message_start", () => {
    const ev = events(
      translate(
        'data: {"id":"c","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":"length"}],"usage":{"prompt_tokens":7,"completion_tokens":1,"total_tokens":8}}\n\ndata: [DONE]\n\n',
      ),
    );
    expect(ev[0]!.data.message.usage.input_tokens).toBe(7);
    expect(ev.find((e) => e.event === "message_delta")!.data).toEqual({
      type: "message_delta",
      delta: { stop_reason: "max_tokens", stop_sequence: null },
      usage: { input_tokens: 7, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 1 },
    });
  });

  test("OpenAI's refusal delta → text, stop_reason refusal", () => {
    const ev = events(translate('data: {"id":"c","choices":[{"index":0,"delta":{"refusal":"I can\'t help with that."},"finish_reason":null}]}\n\ndata: {"id":"c","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n'));
    expect(ev.find((e) => e.event === "content_block_delta")!.data.delta).toEqual({ type: "text_delta", text: "I can't help with that." });
    expect(ev.find((e) => e.event === "message_delta")!.data.delta.stop_reason).toBe("refusal");
  });

  test("a stop string vLLM names in the stream → stop_sequence", () => {
    const ev = events(translate('data: {"id":"c","choices":[{"index":0,"delta":{"content":"1 2 3"},"finish_reason":"stop","stop_reason":"4"}]}\n\ndata: [DONE]\n\n'));
    expect(ev.find((e) => e.event === "message_delta")!.data.delta).toEqual({ stop_reason: "stop_sequence", stop_sequence: "4" });
  });

  test("text and argument chunks read without JSON.parse: only the plain shapes, the rest is parsed", () => {
    const scan = (data: string): Partial<OpenAiDeltaScan> | null => {
      const out: OpenAiDeltaScan = { kind: "content", toolIndex: -1, literal: "" };
      return scanOpenAiDelta(data, out) ? (out.kind === "content" ? { kind: out.kind, literal: out.literal } : { ...out }) : null;
    };
    const text = (literal: string): Partial<OpenAiDeltaScan> => ({ kind: "content", literal });
    expect(scan('{"id":"c","choices":[{"index":0,"delta":{"content":"a \\"q\\" \\\\"},"logprobs":null,"finish_reason":null}]}')).toEqual(text('"a \\"q\\" \\\\"'));
    // OpenAI with include_usage, and its obfuscation member
    expect(scan('{"id":"c","choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":null}],"usage":null,"obfuscation":"x1"}')).toEqual(text('"hi"'));
    // llama.cpp puts finish_reason first
    expect(scan('{"choices":[{"finish_reason":null,"index":0,"delta":{"content":"hi"}}],"created":1}')).toEqual(text('"hi"'));
    expect(scan('{"choices":[{"finish_reason":"stop","index":0,"delta":{"content":"hi"}}]}')).toBeNull();
    expect(scan('{"choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":"length"}]}')).toBeNull();
    expect(scan('{"choices":[{"index":0,"delta":{"content":"hi"}}],"usage":{"prompt_tokens":1,"completion_tokens":1}}')).toBeNull();
    expect(scan('{"choices":[{"index":0,"delta":{"content":"hi","reasoning_content":null}}]}')).toBeNull();
    expect(scan('{"choices": [{"index": 0, "delta": {"content": "hi"}}]}')).toBeNull();
    // key-like text inside the content cannot fool it
    expect(scan('{"choices":[{"index":0,"delta":{"content":"\\"finish_reason\\":\\"stop\\" \\"usage\\":{"},"finish_reason":null}]}')).toEqual(
      text('"\\"finish_reason\\":\\"stop\\" \\"usage\\":{"'),
    );
    // argument fragments, vLLM's and OpenAI's shape
    expect(scan('{"id":"c","choices":[{"index":0,"delta":{"tool_calls":[{"index":12,"function":{"arguments":"{\\"a\\": "}}]},"logprobs":null,"finish_reason":null}]}')).toEqual({
      kind: "arguments",
      toolIndex: 12,
      literal: '"{\\"a\\": "',
    });
    // the first fragment (id, name), two calls in one chunk, a missing index: parsed
    expect(scan('{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"c1","type":"function","function":{"name":"f","arguments":""}}]}}]}')).toBeNull();
    expect(scan('{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"1"}},{"index":1,"function":{"arguments":"2"}}]}}]}')).toBeNull();
    expect(scan('{"choices":[{"index":0,"delta":{"tool_calls":[{"function":{"arguments":"1"}}]}}]}')).toBeNull();
  });

  test("compact and spaced JSON from the backend give the same events (the fast path changes nothing)", async () => {
    // JSON written the way Python's json.dumps writes it: spaces after , and :, non-ASCII escaped.
    const spaced = (v: unknown): string =>
      Array.isArray(v)
        ? `[${v.map(spaced).join(", ")}]`
        : v !== null && typeof v === "object"
          ? `{${Object.entries(v).map(([k, x]) => `${JSON.stringify(k)}: ${spaced(x)}`).join(", ")}}`
          : JSON.stringify(v).replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
    for (const name of ["vllm-tool-call.sse", "vllm-reasoning-text-tool.sse", "openai-parallel-tools.sse", "vllm-error-mid-stream.sse"]) {
      const input = await fixture(name);
      const respaced = input.replace(/^data: (\{.*)$/gm, (_, json: string) => `data: ${spaced(JSON.parse(json))}`);
      expect(respaced).not.toBe(input);
      expect(events(translate(respaced))).toEqual(events(translate(input)));
    }
  });

  test("kept text is decoded from the kept JSON string contents", () => {
    const t = anthropicToOpenAi.streamTranslator(ctx(true));
    translate(
      'data: {"id":"c","choices":[{"index":0,"delta":{"content":""},"finish_reason":null}]}\n\n' +
        'data: {"id":"c","choices":[{"index":0,"delta":{"content":"say \\"h\\u00e9\\"\\n"},"finish_reason":null}]}\n\n' +
        'data: {"id":"c","choices":[{"index":0,"delta":{"reasoning_content":"hm"},"finish_reason":null}]}\n\n',
      [],
      t,
    );
    expect(t.keptText()).toBe('say "hé"\nhm');
  });

  test("kept text is bounded; coverage scales an estimate", () => {
    const t = anthropicToOpenAi.streamTranslator(ctx(true));
    const piece = "x".repeat(1000);
    let input = "";
    for (let i = 0; i < 40; i++) input += `data: {"id":"c","choices":[{"index":0,"delta":{"content":"${piece}"},"finish_reason":null}]}\n\n`;
    translate(input, [], t);
    expect(t.keptText().length).toBe(16000);
    expect(t.coverage()).toBeCloseTo(40000 / 16000);
    expect(t.usage).toBeNull();
  });
});

describe("errors in Anthropic's shape", () => {
  test("backend error bodies of any shape; the type follows the status", () => {
    const d = (status: number, text: string) => JSON.parse(anthropicToOpenAi.decodeError(status, text, "vllm-a")) as Json;
    expect(d(400, '{"object":"error","message":"This model\'s maximum context length is 8192 tokens.","type":"BadRequestError","param":null,"code":400}')).toEqual({
      type: "error",
      error: { type: "invalid_request_error", message: "This model's maximum context length is 8192 tokens.", details: { error_code: "upstream_http_400" } },
    });
    expect(d(404, '{"error":{"message":"The model `x` does not exist.","type":"NotFoundError","param":null,"code":404}}').error.type).toBe("not_found_error");
    expect(d(429, '{"error":{"message":"Rate limit","type":"requests","code":"rate_limit_exceeded"}}').error).toEqual({
      type: "rate_limit_error",
      message: "Rate limit",
      details: { error_code: "rate_limit_exceeded" },
    });
    expect(d(422, '{"detail":[{"loc":["body","messages"],"msg":"field required"}]}').error.message).toContain("field required");
    expect(d(503, '{"error":"Loading model"}').error).toMatchObject({ type: "overloaded_error", message: "Loading model" });
    expect(d(502, "<html>Bad Gateway</html>").error).toMatchObject({ type: "api_error", message: "<html>Bad Gateway</html>" });
    expect(d(500, "").error.message).toBe("backend vllm-a answered HTTP 500");
    expect(d(413, "too big").error.type).toBe("request_too_large");
  });

  test("status → type as Anthropic documents it", () => {
    const table: [number, string][] = [
      [400, "invalid_request_error"],
      [401, "authentication_error"],
      [402, "billing_error"],
      [403, "permission_error"],
      [404, "not_found_error"],
      [409, "conflict_error"],
      [413, "request_too_large"],
      [422, "invalid_request_error"],
      [429, "rate_limit_error"],
      [500, "api_error"],
      [502, "api_error"],
      [503, "overloaded_error"],
      [504, "timeout_error"],
      [529, "overloaded_error"],
    ];
    for (const [status, type] of table) expect(`${status} ${anthropicErrorType(status)}`).toBe(`${status} ${type}`);
  });

  test("the gateway's own errors, as the /v1/messages door answers them; the SDK reads type and code", async () => {
    const err = new GatewayError("rate_limit_exceeded");
    const body = anthropicGatewayErrorBody(err, "req_1");
    expect(JSON.parse(body)).toEqual({
      type: "error",
      error: { type: "rate_limit_error", message: err.message, details: { error_code: "rate_limit_exceeded" } },
      request_id: "req_1",
    });
    const sdkErr = (await sdkClient(body, 429)
      .messages.create({ model: "m", max_tokens: 1, messages: [{ role: "user", content: "x" }] })
      .catch((e: unknown) => e)) as InstanceType<typeof Anthropic.APIError>;
    expect(sdkErr).toBeInstanceOf(Anthropic.RateLimitError);
    expect(sdkErr.type).toBe("rate_limit_error");
    expect(sdkErr.errorCode).toBe("rate_limit_exceeded");
    expect(JSON.parse(anthropicGatewayErrorBody(new GatewayError("missing_api_key"))).error.type).toBe("authentication_error");
    expect(JSON.parse(anthropicGatewayErrorBody(new GatewayError("model_not_found"))).error.type).toBe("not_found_error");
  });
});
