import { describe, expect, test } from "bun:test";
import { KEEP_BYTES, SseUsageTap } from "../../src/proxy/sse-usage-tap.ts";
import { errorEventCode } from "../../src/providers/stream-error-code.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

interface Chunk {
  content: string;
  finish?: string;
}

/** An OpenAI chat stream, as api.openai.com sends it with or without include_usage. */
function openAiStream(parts: Chunk[], includeUsage: boolean, sep = "\n\n", space = false): string {
  const colon = space ? ": " : ":";
  const comma = space ? ", " : ",";
  const usageNull = includeUsage ? `${comma}"usage"${colon}null` : "";
  let out = "";
  for (const p of parts) {
    out += `data: {"id"${colon}"c1"${comma}"object"${colon}"chat.completion.chunk"${comma}"choices"${colon}[{"index"${colon}0${comma}"delta"${colon}{"content"${colon}${JSON.stringify(p.content)}}${comma}"finish_reason"${colon}${p.finish ? JSON.stringify(p.finish) : "null"}}]${usageNull}}${sep}`;
  }
  if (includeUsage) {
    out += `data: {"id"${colon}"c1"${comma}"object"${colon}"chat.completion.chunk"${comma}"choices"${colon}[]${comma}"usage"${colon}{"prompt_tokens"${colon}11${comma}"completion_tokens"${colon}3${comma}"total_tokens"${colon}14${comma}"prompt_tokens_details"${colon}{"cached_tokens"${colon}4}}}${sep}`;
  }
  return out + `data: [DONE]${sep}`;
}

const PARTS: Chunk[] = [{ content: "" }, { content: "Hé" }, { content: " \"wörld\"\n" }, { content: "!", finish: "stop" }];

/** Feed `input` split at the given byte offsets; return what the client gets. */
function run(tap: SseUsageTap, input: string, cuts: number[]): string {
  const bytes = enc.encode(input);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const c of [...cuts, bytes.length]) {
    out.push(tap.push(bytes.subarray(prev, c)));
    prev = c;
  }
  out.push(tap.flush());
  return dec.decode(Buffer.concat(out));
}

function everyCut(input: string): number[][] {
  const n = enc.encode(input).length;
  const cuts: number[][] = [[]];
  for (let i = 1; i < n; i++) cuts.push([i]);
  cuts.push(Array.from({ length: Math.floor(n / 7) }, (_, i) => (i + 1) * 7));
  return cuts;
}

describe("SseUsageTap, gateway-injected usage (hideUsage)", () => {
  test("the client sees exactly the stream it would get directly, at every split point", () => {
    for (const space of [false, true]) {
      const upstream = openAiStream(PARTS, true, "\n\n", space);
      const direct = openAiStream(PARTS, false, "\n\n", space);
      for (const cuts of everyCut(upstream)) {
        const tap = new SseUsageTap({ hideUsage: true, textKeys: ["content"] });
        expect(run(tap, upstream, cuts)).toBe(direct);
        expect(tap.usage).toEqual({ promptTokens: 11, completionTokens: 3, cachedTokens: 4, cacheWriteTokens: 0 });
      }
    }
  });

  test("CRLF event terminators", () => {
    const tap = new SseUsageTap({ hideUsage: true, textKeys: ["content"] });
    expect(run(tap, openAiStream(PARTS, true, "\r\n\r\n"), [50, 200])).toBe(openAiStream(PARTS, false, "\r\n\r\n"));
    expect(tap.usage?.promptTokens).toBe(11);
  });

  test("a vLLM-style stream (no usage:null members) only loses the usage chunk", () => {
    const vllmChunk = 'data: {"id":"x","choices":[{"index":0,"delta":{"content":"hi"}}]}\n\n';
    const usage = 'data: {"id":"x","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":1,"total_tokens":6}}\n\n';
    const tap = new SseUsageTap({ hideUsage: true, textKeys: ["content"] });
    expect(run(tap, vllmChunk + usage + "data: [DONE]\n\n", [])).toBe(vllmChunk + "data: [DONE]\n\n");
    expect(tap.usage).toEqual({ promptTokens: 5, completionTokens: 1, cachedTokens: 0, cacheWriteTokens: 0 });
  });
});

describe("SseUsageTap, client-requested usage", () => {
  test("passes every byte on and still reads the usage", () => {
    const upstream = openAiStream(PARTS, true);
    for (const cuts of everyCut(upstream)) {
      const tap = new SseUsageTap({ hideUsage: false, textKeys: ["content"] });
      expect(run(tap, upstream, cuts)).toBe(upstream);
      expect(tap.usage?.completionTokens).toBe(3);
    }
  });

  test("a chunk without usage is passed on as the same bytes (no copy)", () => {
    const tap = new SseUsageTap({ hideUsage: false, textKeys: ["content"] });
    const chunk = enc.encode('data: {"choices":[{"delta":{"content":"x"}}]}\n\n');
    expect(tap.push(chunk)).toBe(chunk);
  });

  test("Responses API: usage read from response.completed", () => {
    const stream =
      'event: response.created\ndata: {"type":"response.created","response":{"id":"r","usage":null}}\n\n' +
      'event: response.output_text.delta\ndata: {"type":"response.output_text.delta","delta":"Hi"}\n\n' +
      'event: response.completed\ndata: {"type":"response.completed","response":{"id":"r","output":[{"content":[{"text":"Hi"}]}],"usage":{"input_tokens":7,"output_tokens":1,"total_tokens":8,"input_tokens_details":{"cached_tokens":2}}}}\n\n';
    const tap = new SseUsageTap({ hideUsage: false, textKeys: ["delta"] });
    expect(run(tap, stream, [30, 100, 180])).toBe(stream);
    expect(tap.usage).toEqual({ promptTokens: 7, completionTokens: 1, cachedTokens: 2, cacheWriteTokens: 0 });
    expect(tap.keptText()).toBe("Hi");
  });
});

describe("SseUsageTap, text for estimates", () => {
  test("collects generated text with escapes decoded, across split events", () => {
    const upstream = openAiStream(PARTS, false);
    const tap = new SseUsageTap({ hideUsage: false, textKeys: ["content"] });
    run(tap, upstream, [33, 150]);
    expect(tap.keptText()).toBe('Hé "wörld"\n!');
    expect(tap.coverage()).toBe(1);
    expect(tap.usage).toBeNull();
  });

  test("an unterminated last event is passed on at the end", () => {
    const tap = new SseUsageTap({ hideUsage: true, textKeys: ["content"] });
    expect(run(tap, 'data: {"choices":[{"delta":{"content":"a"}}]}\n\ndata: [DONE]\n', [])).toBe(
      'data: {"choices":[{"delta":{"content":"a"}}]}\n\ndata: [DONE]\n',
    );
  });
});

describe("SseUsageTap, long answers", () => {
  test("keeps at most KEEP_BYTES of text and reports how much more there was", () => {
    const tap = new SseUsageTap({ hideUsage: false, textKeys: ["content"] });
    const piece = "word ".repeat(20); // 100 bytes
    const n = 400; // 40 000 bytes of text in all
    for (let i = 0; i < n; i++) tap.push(enc.encode(`data: {"choices":[{"delta":{"content":${JSON.stringify(piece)}}}]}\n\n`));
    const kept = tap.keptText();
    expect(kept.length).toBeLessThanOrEqual(KEEP_BYTES);
    expect(kept.length % piece.length).toBe(0); // whole pieces only
    expect(tap.coverage() * kept.length).toBeCloseTo(n * piece.length, 0);
  });
});

describe("SseUsageTap, an error the backend reports in the stream", () => {
  const opts = { hideUsage: true, textKeys: ["content"] };
  const head = openAiStream(PARTS.slice(0, 2), true).replace("data: [DONE]\n\n", "");

  test("vLLM/OpenAI data: {error}: passed on as sent at every split point, its code noted", () => {
    const err = 'data: {"error":{"message":"engine died","type":"server_error","code":"internal_error"}}\n\n';
    const want = run(new SseUsageTap(opts), head, []) + err;
    const input = head + err;
    for (let cut = 1; cut < input.length; cut += 7) {
      const tap = new SseUsageTap(opts);
      expect(run(tap, input, [cut])).toBe(want);
      expect(tap.backendError).toBe("internal_error");
    }
  });

  test("Anthropic's error event and the Responses API's are noted by their code or type", () => {
    const anthropic = new SseUsageTap({ hideUsage: false, textKeys: ["text"], anthropic: true });
    run(anthropic, 'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n', []);
    expect(anthropic.backendError).toBe("overloaded_error");
    const responses = new SseUsageTap({ hideUsage: false, textKeys: ["delta"] });
    run(responses, 'event: response.failed\ndata: {"type":"response.failed","response":{"error":{"code":"server_error","message":"x"}}}\n\n', []);
    expect(responses.backendError).toBe("server_error");
  });

  test('"error" in generated text, an error key inside a tool call\'s arguments, and "error": null are not errors', () => {
    const tap = new SseUsageTap(opts);
    const stream =
      openAiStream([{ content: 'the "error" was mine' }, { content: "error" }], false) +
      'data: {"choices":[{"delta":{"tool_calls":[{"function":{"arguments":"{\\"error\\":true}"}}]}}],"error":null}\n\n';
    run(tap, stream, []);
    expect(tap.backendError).toBeNull();
  });
});

describe("errorEventCode", () => {
  test("reads each shape; anything else is not an error event", () => {
    expect(errorEventCode({ error: { message: "m", code: 400 } })).toBe("400");
    expect(errorEventCode({ error: "plain text" })).toBe("error");
    expect(errorEventCode({ type: "error", code: "rate_limit_exceeded" })).toBe("rate_limit_exceeded");
    expect(errorEventCode({ type: "response.failed", response: {} })).toBe("response_failed");
    for (const not of [null, "error", 3, { error: null }, { type: "message_delta" }, { choices: [] }]) expect(errorEventCode(not)).toBeNull();
  });
});
