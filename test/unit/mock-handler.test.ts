// The mock backend called in-process (no socket), the way the demo's `mock` provider
// uses it: byte-exact answers, one chunk per event, faults and aborts.

import { describe, expect, test } from "bun:test";
import { createMockBackend, type MockBackend } from "../../src/mock/handler.ts";
import { DEFAULT_MOCK_OPTIONS, type MockOptions } from "../../src/mock/options.ts";
import { mockCompletionText } from "../../src/mock/text.ts";

const NOW = 1_700_000_000_000;
const CREATED = 1_700_000_000;

function backend(opts: Partial<MockOptions> = {}): MockBackend {
  return createMockBackend({ ...DEFAULT_MOCK_OPTIONS, delayMs: 0, ...opts }, { now: () => NOW, idTag: "t" });
}

function post(path: string, body: unknown, headers: Record<string, string> = {}, signal?: AbortSignal): Request {
  const init: RequestInit = { method: "POST", body: typeof body === "string" ? body : JSON.stringify(body), headers: { "content-type": "application/json", ...headers } };
  if (signal) init.signal = signal;
  return new Request(`http://mock${path}`, init);
}

/** Every chunk of a body, decoded, in order. */
async function chunks(res: Response): Promise<string[]> {
  const out: string[] = [];
  const dec = new TextDecoder();
  for await (const c of res.body as ReadableStream<Uint8Array>) out.push(dec.decode(c));
  return out;
}

const chatMessages = [{ role: "user", content: "hello mock" }];

describe("chat completions, in-process", () => {
  test("a stream with include_usage is, byte for byte, OpenAI's format, one chunk per event", async () => {
    const mock = backend({ tokens: 2 });
    const res = await mock.fetch(post("/v1/chat/completions", { model: "gpt-x", stream: true, stream_options: { include_usage: true }, messages: chatMessages }));
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/event-stream");
    const pre = `data: {"id":"chatcmpl-t1","object":"chat.completion.chunk","created":${CREATED},"model":"gpt-x","choices":[`;
    expect(await chunks(res)).toEqual([
      `${pre}{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}],"usage":null}\n\n`,
      `${pre}{"index":0,"delta":{"content":"the"},"logprobs":null,"finish_reason":null}],"usage":null}\n\n`,
      `${pre}{"index":0,"delta":{"content":" quick"},"logprobs":null,"finish_reason":null}],"usage":null}\n\n`,
      `${pre}{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],"usage":null}\n\n`,
      `${pre}],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}\n\n`,
      "data: [DONE]\n\n",
    ]);
  });

  test("without include_usage no chunk carries a usage key and there is no usage chunk", async () => {
    const mock = backend({ tokens: 1 });
    const res = await mock.fetch(post("/v1/chat/completions", { model: "m", stream: true, messages: chatMessages }));
    const events = await chunks(res);
    expect(events).toHaveLength(4);
    for (const e of events) expect(e).not.toContain("usage");
  });

  test("a whole answer is OpenAI's chat.completion object", async () => {
    const mock = backend({ tokens: 3 });
    const res = await mock.fetch(post("/v1/chat/completions", { model: "m", messages: chatMessages }));
    expect(res.headers.get("content-type")).toBe("application/json");
    expect(await res.json()).toEqual({
      id: "chatcmpl-t1",
      object: "chat.completion",
      created: CREATED,
      model: "m",
      choices: [{ index: 0, message: { role: "assistant", content: "the quick brown", refusal: null }, logprobs: null, finish_reason: "stop" }],
      usage: { prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 },
    });
  });

  test("max_tokens and max_completion_tokens cut the answer and finish with \"length\"", async () => {
    const mock = backend({ tokens: 10 });
    for (const cap of [{ max_tokens: 4 }, { max_completion_tokens: 4 }]) {
      const body = (await (await mock.fetch(post("/v1/chat/completions", { model: "m", messages: chatMessages, ...cap }))).json()) as {
        choices: { message: { content: string }; finish_reason: string }[];
        usage: { completion_tokens: number };
      };
      expect(body.choices[0]?.message.content).toBe(mockCompletionText(4));
      expect(body.choices[0]?.finish_reason).toBe("length");
      expect(body.usage.completion_tokens).toBe(4);
    }
  });

  test("with tools the answer is a call to the named tool, arguments filling its first required property", async () => {
    const mock = backend({ tokens: 2 });
    const tools = [
      { type: "function", function: { name: "search", parameters: { type: "object", properties: { q: { type: "string" } } } } },
      { type: "function", function: { name: "get_weather", parameters: { type: "object", properties: { unit: {}, location: {} }, required: ["location"] } } },
    ];
    const res = await mock.fetch(post("/v1/chat/completions", { model: "m", messages: chatMessages, tools, tool_choice: { type: "function", function: { name: "get_weather" } } }));
    const body = (await res.json()) as { choices: { message: unknown; finish_reason: string }[]; usage: { completion_tokens: number } };
    expect(body.choices[0] as unknown).toEqual({
      index: 0,
      message: {
        role: "assistant",
        content: null,
        tool_calls: [{ id: "call_t1", type: "function", function: { name: "get_weather", arguments: '{"location":"the quick"}' } }],
        refusal: null,
      },
      logprobs: null,
      finish_reason: "tool_calls",
    });
    expect(body.usage.completion_tokens).toBe(2);
  });

  test("tool_choice \"none\" answers with text", async () => {
    const mock = backend({ tokens: 1 });
    const tools = [{ type: "function", function: { name: "f", parameters: {} } }];
    const body = (await (await mock.fetch(post("/v1/chat/completions", { model: "m", messages: chatMessages, tools, tool_choice: "none" }))).json()) as {
      choices: { message: { content: string } }[];
    };
    expect(body.choices[0]?.message.content).toBe("the");
  });
});

describe("other wire formats, in-process", () => {
  test("a legacy completions stream has no role chunk; usage only with include_usage", async () => {
    const mock = backend({ tokens: 2 });
    const res = await mock.fetch(post("/v1/completions", { model: "m", prompt: "say it", stream: true }));
    const pre = `data: {"id":"cmpl-t1","object":"text_completion","created":${CREATED},"model":"m","choices":[`;
    expect(await chunks(res)).toEqual([
      `${pre}{"text":"the","index":0,"logprobs":null,"finish_reason":null}]}\n\n`,
      `${pre}{"text":" quick","index":0,"logprobs":null,"finish_reason":null}]}\n\n`,
      `${pre}{"text":"","index":0,"logprobs":null,"finish_reason":"stop"}]}\n\n`,
      "data: [DONE]\n\n",
    ]);
  });

  test("an Anthropic stream is, byte for byte, the Messages streaming format", async () => {
    const mock = backend({ tokens: 2 });
    const res = await mock.fetch(post("/v1/messages", { model: "claude-x", max_tokens: 100, stream: true, messages: [{ role: "user", content: "hi" }] }));
    expect(await chunks(res)).toEqual([
      'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_t1","type":"message","role":"assistant","model":"claude-x","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":4,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":1}}}\n\n',
      'event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n',
      'event: ping\ndata: {"type":"ping"}\n\n',
      'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"the"}}\n\n',
      'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" quick"}}\n\n',
      'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n',
      'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":2}}\n\n',
      'event: message_stop\ndata: {"type":"message_stop"}\n\n',
    ]);
  });

  test("Anthropic requires max_tokens and answers in its own error shape", async () => {
    const res = await backend().fetch(post("/v1/messages", { model: "c", messages: [{ role: "user", content: "hi" }] }));
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ type: "error", error: { type: "invalid_request_error", message: "max_tokens: Field required" } });
  });

  test("a Responses answer cut by max_output_tokens is \"incomplete\", as the real API says", async () => {
    const res = await backend({ tokens: 5 }).fetch(post("/v1/responses", { model: "m", input: "hi", max_output_tokens: 2 }));
    const body = (await res.json()) as { status: string; incomplete_details: unknown; output: { content: { text: string }[] }[]; usage: { output_tokens: number } };
    expect(body.status).toBe("incomplete");
    expect(body.incomplete_details).toEqual({ reason: "max_output_tokens" });
    expect(body.output[0]?.content[0]?.text).toBe("the quick");
    expect(body.usage.output_tokens).toBe(2);
  });

  test("count_tokens counts like the messages endpoint", async () => {
    const res = await backend().fetch(post("/v1/messages/count_tokens", { model: "c", system: "be short", messages: [{ role: "user", content: "one two three" }] }));
    expect(await res.json()).toEqual({ input_tokens: 2 + 3 + 3 + 3 });
  });

  test("models lists mock-1; /health is ok; paths work without the /v1 prefix too", async () => {
    const mock = backend({ tokens: 1 });
    const models = (await (await mock.fetch(new Request("http://mock/v1/models"))).json()) as { object: string; data: { id: string; owned_by: string }[] };
    expect(models.object).toBe("list");
    expect(models.data[0]).toMatchObject({ id: "mock-1", object: "model", owned_by: "llmproxy-mock" });
    expect(await (await mock.fetch(new Request("http://mock/health"))).json()).toEqual({ status: "ok" });
    const res = await mock.fetch(post("/chat/completions", { model: "m", messages: chatMessages }));
    expect(res.status).toBe(200);
  });
});

describe("errors, faults and aborts, in-process", () => {
  test("an unknown path is a 404 in OpenAI's error shape", async () => {
    const res = await backend().fetch(post("/v1/nothing", {}));
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: { message: "Invalid URL (POST /v1/nothing)", type: "invalid_request_error", param: null, code: "not_found" } });
  });

  test("malformed JSON is a 400 in the endpoint's provider shape", async () => {
    const mock = backend();
    const openai = await mock.fetch(post("/v1/chat/completions", "{not json"));
    expect(openai.status).toBe(400);
    expect(((await openai.json()) as { error: { type: string } }).error.type).toBe("invalid_request_error");
    const anthropic = await mock.fetch(post("/v1/messages", "[1,2"));
    expect(anthropic.status).toBe(400);
    expect(((await anthropic.json()) as { type: string }).type).toBe("error");
  });

  test("a malformed x-mock header is a 400 that names it", async () => {
    const res = await backend().fetch(post("/v1/chat/completions", { model: "m", messages: chatMessages }, { "x-mock-tokens": "many" }));
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toBe('x-mock-tokens must be a whole number >= 0, got "many"');
  });

  test("aborting the request's signal errors the body, stops generation and is recorded with the tokens sent", async () => {
    // A pause between tokens, so tokens are made one per pull (with none they come in batches).
    const mock = backend({ tokens: 1000, delayMs: 1 });
    const ac = new AbortController();
    const ended = mock.nextEnd();
    const res = await mock.fetch(post("/v1/chat/completions", { model: "m", stream: true, messages: chatMessages }, {}, ac.signal));
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    await reader.read(); // role chunk
    await reader.read(); // token 0
    await reader.read(); // token 1
    ac.abort();
    await expect(reader.read()).rejects.toThrow();
    const e = await ended;
    expect(e.aborted).toBe(true);
    expect(e.stream).toBe(true);
    // Pull-based: at most one token is made ahead of what the reader took.
    expect(e.completionTokensSent).toBeGreaterThanOrEqual(2);
    expect(e.completionTokensSent).toBeLessThan(5);
    expect(mock.stats).toMatchObject({ requests: 1, active: 0, aborted: 1, completed: 0 });
  });

  test("x-mock-hang: headers never answers until the signal aborts", async () => {
    const mock = backend();
    const ac = new AbortController();
    const started = mock.nextStart();
    const ended = mock.nextEnd();
    const answer = mock.fetch(post("/v1/chat/completions", { model: "m", messages: chatMessages }, { "x-mock-hang": "headers" }, ac.signal));
    await started;
    ac.abort();
    await answer;
    const e = await ended;
    expect(e).toMatchObject({ aborted: true, status: 0, completionTokensSent: 0 });
  });

  test("x-mock-drop-after errors the body with a real Error after N tokens (in-process)", async () => {
    const mock = backend({ tokens: 10 });
    const ended = mock.nextEnd();
    const res = await mock.fetch(post("/v1/chat/completions", { model: "m", stream: true, messages: chatMessages }, { "x-mock-drop-after": "2" }));
    const got: string[] = [];
    let error: unknown;
    try {
      for await (const c of res.body as ReadableStream<Uint8Array>) got.push(new TextDecoder().decode(c));
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(Error);
    expect(got).toHaveLength(3); // role chunk + 2 tokens
    expect(await ended).toMatchObject({ aborted: false, completionTokensSent: 2 });
  });

  test("the request end records headers, raw body, ids and token counts", async () => {
    const mock = backend({ tokens: 2 });
    const ended = mock.nextEnd();
    const raw = JSON.stringify({ model: "m", messages: chatMessages });
    await (await mock.fetch(post("/v1/chat/completions", raw, { "x-trace": "abc" }))).text();
    const e = await ended;
    expect(e).toMatchObject({ id: "chatcmpl-t1", path: "/v1/chat/completions", stream: false, aborted: false, completionTokensSent: 2, promptTokens: 5, body: raw, status: 200, model: "m" });
    expect(e.headers.get("x-trace")).toBe("abc");
    expect(mock.stats).toMatchObject({ requests: 1, active: 0, completed: 1, tokensSent: 2 });
  });
});
