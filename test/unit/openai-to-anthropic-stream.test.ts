import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import OpenAI from "openai";
import { KEEP_CHARS, openAiToAnthropic } from "../../src/providers/openai-to-anthropic.ts";
import { scanDelta, type DeltaScan } from "../../src/providers/anthropic-delta-scan.ts";
import { SseParser } from "../../src/providers/sse.ts";
import type { EncodeContext, StreamTranslator } from "../../src/providers/types.ts";
import { sseData } from "../helpers/sse.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const fixture = (name: string): string => readFileSync(new URL(`../fixtures/anthropic/${name}`, import.meta.url), "utf8");

const CTX: EncodeContext = {
  upstreamModel: "claude-sonnet-4-5-20250929",
  clientModel: "claude-alias",
  stream: true,
  created: 1_764_000_000,
  includeUsage: true,
};

interface Chunk {
  id: string;
  object: string;
  created: number;
  model: string;
  choices: { index: number; delta: Record<string, unknown>; finish_reason: string | null }[];
  usage?: Record<string, unknown> | null;
}

/** Feeds `input` split at the given byte offsets; returns what the client gets. */
function run(input: string | Uint8Array, cuts: number[] = [], ctx: EncodeContext = CTX): { out: string; t: StreamTranslator } {
  const t = openAiToAnthropic.streamTranslator(ctx);
  const bytes = typeof input === "string" ? enc.encode(input) : input;
  const parts: Uint8Array[] = [];
  let prev = 0;
  for (const c of [...cuts, bytes.length]) {
    parts.push(t.push(bytes.subarray(prev, c)));
    prev = c;
  }
  parts.push(t.flush());
  return { out: dec.decode(Buffer.concat(parts)), t };
}

function chunks(out: string): (Chunk | "[DONE]" | { error: Record<string, unknown> })[] {
  return sseData(out).map((d) => (d === "[DONE]" ? "[DONE]" : JSON.parse(d)));
}

function deltas(out: string): Record<string, unknown>[] {
  return chunks(out).flatMap((c) => (typeof c === "object" && "choices" in c ? c.choices.map((x) => x.delta) : []));
}

/** A seeded generator, so a failing random split can be replayed. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const STREAMS = ["stream-text.sse", "stream-tool-use.sse", "stream-thinking.sse", "stream-error.sse"];

describe("Anthropic stream → OpenAI chunks", () => {
  test("a text stream becomes a role chunk, content deltas, a finish_reason, the usage chunk and [DONE]", () => {
    const { out, t } = run(fixture("stream-text.sse"));
    const cs = chunks(out);
    expect(cs.at(-1)).toBe("[DONE]");
    const objs = cs.slice(0, -1) as Chunk[];
    for (const c of objs) {
      expect(c).toMatchObject({ id: "msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY", object: "chat.completion.chunk", created: CTX.created, model: "claude-alias" });
    }
    expect(objs.map((c) => c.choices[0]?.delta ?? null)).toEqual([
      { role: "assistant", content: "" },
      { content: "Héllo" },
      { content: ' wörld 🌍, "quoted"\n' },
      { content: "日本語!" },
      {},
      null,
    ]);
    expect(objs.map((c) => c.choices[0]?.finish_reason ?? null)).toEqual([null, null, null, null, "stop", null]);
    // as OpenAI does when include_usage is on: "usage": null on every chunk before the usage chunk
    expect(objs.slice(0, 5).map((c) => c.usage)).toEqual([null, null, null, null, null]);
    // input 25 + cache write 100 + cache read 400
    expect(objs[5]).toMatchObject({ choices: [], usage: { prompt_tokens: 525, completion_tokens: 15, total_tokens: 540, prompt_tokens_details: { cached_tokens: 400 } } });
    expect(t.usage).toEqual({ promptTokens: 525, completionTokens: 15, cachedTokens: 400, cacheWriteTokens: 100 });
    expect(t.keptText()).toBe('Héllo wörld 🌍, "quoted"\n日本語!');
    expect(t.coverage()).toBe(1);
  });

  test("without include_usage the usage chunk is left out, and the usage is still recorded", () => {
    const { out, t } = run(fixture("stream-text.sse"), [], { ...CTX, includeUsage: false });
    expect(chunks(out).some((c) => typeof c === "object" && "usage" in c)).toBe(false);
    expect(chunks(out).at(-1)).toBe("[DONE]");
    expect(t.usage).toEqual({ promptTokens: 525, completionTokens: 15, cachedTokens: 400, cacheWriteTokens: 100 });
  });

  test("tool_use blocks become tool_calls deltas indexed from 0, with id, name and argument fragments", () => {
    const { out, t } = run(fixture("stream-tool-use.sse"));
    expect(deltas(out)).toEqual([
      { role: "assistant", content: "" },
      { content: "Okay, let me check." },
      { tool_calls: [{ index: 0, id: "toolu_01T1x1fJ34qAmk2tNTrN7Up6", type: "function", function: { name: "get_weather", arguments: "" } }] },
      { tool_calls: [{ index: 0, function: { arguments: '{"location":' } }] },
      { tool_calls: [{ index: 0, function: { arguments: ' "San Francisco, CA"}' } }] },
      { tool_calls: [{ index: 1, id: "toolu_01Bw2rYKmTWkHo9PZqv3Kd1e", type: "function", function: { name: "get_time", arguments: "" } }] },
      { tool_calls: [{ index: 1, function: { arguments: '{"tz": "PST"}' } }] },
      {},
    ]);
    const finish = (chunks(out) as Chunk[]).map((c) => c.choices?.[0]?.finish_reason).filter(Boolean);
    expect(finish).toEqual(["tool_calls"]);
    expect(t.usage).toEqual({ promptTokens: 472, completionTokens: 89, cachedTokens: 0, cacheWriteTokens: 0 });
  });

  test("thinking deltas become reasoning_content; signatures are not sent; message_delta's input counts win", () => {
    const { out, t } = run(fixture("stream-thinking.sse"));
    expect(deltas(out)).toEqual([
      { role: "assistant", content: "" },
      { reasoning_content: "27 * 453: 27 * 400 = 10800, " },
      { reasoning_content: "27 * 53 = 1431, total 12231." },
      { content: "27 × 453 = 12,231" },
      {},
    ]);
    expect((chunks(out) as Chunk[]).find((c) => c.choices?.[0]?.finish_reason)?.choices[0]?.finish_reason).toBe("length");
    expect(t.usage).toEqual({ promptTokens: 50, completionTokens: 120, cachedTokens: 0, cacheWriteTokens: 0 });
  });

  test("an error event becomes an OpenAI error event, and nothing follows it", () => {
    const { out, t } = run(fixture("stream-error.sse"));
    const cs = chunks(out);
    expect(cs.at(-1)).toEqual({ error: { message: "Overloaded", type: "server_error", param: null, code: "overloaded_error" } });
    expect(deltas(out)).toEqual([{ role: "assistant", content: "" }, { content: "Once upon" }]);
    expect(out).not.toContain("[DONE]");
    expect(t.usage).toBeNull();
    expect(t.push(enc.encode(fixture("stream-text.sse"))).length).toBe(0);
  });

  test.each(STREAMS)("%s: fed byte by byte, in random splits and with CRLF line endings, the client gets the same bytes", (name) => {
    const input = fixture(name);
    const whole = run(input).out;
    const bytes = enc.encode(input);
    const oneByOne = Array.from({ length: bytes.length - 1 }, (_, i) => i + 1);
    expect(run(bytes, oneByOne).out).toBe(whole);
    const r = rng(name.length);
    for (let k = 0; k < 50; k++) {
      const cuts = new Set<number>();
      const n = 1 + Math.floor(r() * 12);
      for (let i = 0; i < n; i++) cuts.add(1 + Math.floor(r() * (bytes.length - 1)));
      expect(run(bytes, [...cuts].sort((a, b) => a - b)).out).toBe(whole);
    }
    const crlf = input.replaceAll("\n", "\r\n");
    expect(run(crlf).out).toBe(whole);
    expect(run(enc.encode(crlf), Array.from({ length: enc.encode(crlf).length - 1 }, (_, i) => i + 1)).out).toBe(whole);
  });

  test("each event is answered as soon as its blank line arrives, never later", () => {
    const input = fixture("stream-text.sse");
    const t = openAiToAnthropic.streamTranslator(CTX);
    const events = input.split("\n\n").filter((e) => e !== "");
    const got: string[] = [];
    for (const e of events) {
      // the event without its blank line: nothing yet (its end is not known) ...
      const early = dec.decode(t.push(enc.encode(e + "\n")));
      // ... the blank line completes it
      got.push(early + dec.decode(t.push(enc.encode("\n"))));
    }
    expect(got.map((o) => sseData(o).length)).toEqual([1, 0, 0, 1, 1, 1, 0, 1, 2]);
    expect(got[3]).toContain('"content":"Héllo"');
    expect(got.every((o, i) => i === 0 || !o.includes('"role"'))).toBe(true);
    expect(t.flush().length).toBe(0);
  });

  test("several events in one chunk are all answered by that chunk", () => {
    const t = openAiToAnthropic.streamTranslator(CTX);
    const out = dec.decode(t.push(enc.encode(fixture("stream-tool-use.sse"))));
    expect(out.endsWith("data: [DONE]\n\n")).toBe(true);
    expect(t.flush().length).toBe(0);
  });

  test("a stream cut mid-event gives the complete events, drops the cut one, and never says [DONE]", () => {
    const input = fixture("stream-text.sse");
    const cutAt = enc.encode(input.slice(0, input.indexOf("日本語"))).length; // inside the third text delta
    const t = openAiToAnthropic.streamTranslator(CTX);
    const out = dec.decode(Buffer.concat([t.push(enc.encode(input).subarray(0, cutAt)), t.flush()]));
    expect(deltas(out)).toEqual([{ role: "assistant", content: "" }, { content: "Héllo" }, { content: ' wörld 🌍, "quoted"\n' }]);
    expect(out).not.toContain("[DONE]");
    expect(t.usage).toBeNull(); // message_start's output count is a placeholder: estimate instead
    expect(t.keptText()).toBe('Héllo wörld 🌍, "quoted"\n');
  });

  test("a stream whose last event lacks its blank line is still finished at flush", () => {
    const input = fixture("stream-text.sse").trimEnd(); // ends right after message_stop's data line
    const { out } = run(input);
    expect(chunks(out).at(-1)).toBe("[DONE]");
  });

  test.each([
    ["end_turn", "stop"],
    ["stop_sequence", "stop"],
    ["max_tokens", "length"],
    ["model_context_window_exceeded", "length"],
    ["tool_use", "tool_calls"],
    ["refusal", "content_filter"],
    ["pause_turn", "stop"],
    ["some_future_reason", "stop"],
  ])("stop_reason %s → finish_reason %s", (stop, finish) => {
    const input = fixture("stream-text.sse").replace('"stop_reason":"end_turn"', `"stop_reason":"${stop}"`);
    const c = (chunks(run(input).out) as Chunk[]).find((x) => x.choices?.[0]?.finish_reason);
    expect(c?.choices[0]?.finish_reason).toBe(finish);
  });

  test("kept text is bounded; coverage scales an estimate to the whole answer", () => {
    const piece = "abcdefghij".repeat(100); // 1000 chars a delta
    let input = fixture("stream-text.sse").split("event: content_block_stop")[0]!;
    for (let i = 0; i < 40; i++) input += `event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"${piece}"}}\n\n`;
    const { t } = run(input);
    const all = 'Héllo wörld 🌍, "quoted"\n日本語!' + piece.repeat(40);
    // counted as the escaped JSON text it arrives in: a few escapes make it a little shorter decoded
    expect(t.keptText().length).toBeLessThanOrEqual(KEEP_CHARS);
    expect(t.keptText().length).toBeGreaterThan(KEEP_CHARS - 8);
    expect(all.startsWith(t.keptText())).toBe(true);
    expect(t.coverage() * t.keptText().length).toBeCloseTo(all.length, -1);
  });

  test("errorEvent is an OpenAI error event", () => {
    const t = openAiToAnthropic.streamTranslator(CTX);
    const ev = dec.decode(t.errorEvent({ code: "upstream_idle_timeout", message: "The backend stopped sending data for too long.", type: "timeout_error" }));
    expect(ev.endsWith("\n\n")).toBe(true);
    expect(chunks(ev)).toEqual([{ error: { message: "The backend stopped sending data for too long.", type: "timeout_error", param: null, code: "upstream_idle_timeout" } }]);
  });
});

describe("content_block_delta read without JSON.parse (scanDelta)", () => {
  const TEXTS = ["plain", 'a "quoted" word', "ends with a backslash \\", 'looks like the end "}}', "tab\tnew\nline", "é 🌍 \u2028", "\\\"", ""];

  test.each(TEXTS)("%p: the scanned literal is the JSON of the text", (text) => {
    const out: DeltaScan = { kind: "text", index: -1, literal: "" };
    const data = JSON.stringify({ type: "content_block_delta", index: 12, delta: { type: "text_delta", text } });
    expect(scanDelta(data, out)).toBe(true);
    expect(out).toEqual({ kind: "text", index: 12, literal: JSON.stringify(text) });
  });

  test("other shapes are left to JSON.parse", () => {
    const out: DeltaScan = { kind: "text", index: -1, literal: "" };
    for (const data of [
      '{"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "a"}}',
      '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"a","x":"b"}}',
      '{"type":"content_block_delta","index":0,"delta":{"type":"citations_delta","citation":{}}}',
      '{"type":"content_block_delta","delta":{"type":"text_delta","text":"a"},"index":0}',
      '{"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"abc"}}',
      // invalid JSON (a raw line break in the string, as two data: lines would join): never passed on as is
      '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"a\nb"}}',
    ]) {
      expect(scanDelta(data, out)).toBe(false);
    }
  });

  test("an event with a raw line break in its text (invalid JSON) is dropped, not sent to break the client's framing", () => {
    const input = fixture("stream-text.sse").replace('"text":"Héllo"}}', '"text":"Hé"}}\ndata: llo"}}');
    const { out } = run(input);
    expect(deltas(out).map((d) => d.content)).toEqual(["", ' wörld 🌍, "quoted"\n', "日本語!", undefined]);
  });

  test("a stream in another serialization (spaces, key order) gives the same chunks as Anthropic's compact one", () => {
    const compact = fixture("stream-tool-use.sse") + "";
    const spaced = compact.replace(/^data: (.*)$/gm, (_, d: string) => {
      const o = JSON.parse(d) as Record<string, unknown>;
      const reordered = { ...o, type: o.type }; // type last
      return `data: ${JSON.stringify(reordered, null, 1).replaceAll("\n", "")}`;
    });
    expect(spaced).not.toBe(compact);
    expect(chunks(run(spaced).out)).toEqual(chunks(run(compact).out));
    const texts = TEXTS.map((text) => `event: content_block_delta\ndata: ${JSON.stringify({ type: "content_block_delta", index: 0, delta: { type: "text_delta", text } })}\n\n`).join("");
    const textsSpaced = texts.replaceAll('{"type":"content_block_delta"', '{"type": "content_block_delta"');
    expect(deltas(run(textsSpaced).out)).toEqual(deltas(run(texts).out));
    expect(deltas(run(texts).out).map((d) => d.content)).toEqual(["", ...TEXTS.filter((t) => t !== "")]); // the role chunk, then each non-empty text
  });
});

describe("the official openai SDK reads the translated stream", () => {
  function client(body: string): OpenAI {
    const fetch = async (): Promise<Response> => new Response(body, { headers: { "content-type": "text/event-stream" } });
    return new OpenAI({ apiKey: "sk-test", baseURL: "http://gateway.test/v1", fetch, maxRetries: 0 });
  }

  test("text, tool calls and usage assemble into the final completion", async () => {
    const c = client(run(fixture("stream-tool-use.sse")).out);
    const stream = c.chat.completions.stream({ model: "claude-alias", messages: [{ role: "user", content: "hi" }], stream_options: { include_usage: true } });
    const final = await stream.finalChatCompletion();
    expect(final.choices[0]?.message.content).toBe("Okay, let me check.");
    expect(final.choices[0]?.message.tool_calls?.map((x) => (x.type === "function" ? [x.id, x.function.name, JSON.parse(x.function.arguments)] : null))).toEqual([
      ["toolu_01T1x1fJ34qAmk2tNTrN7Up6", "get_weather", { location: "San Francisco, CA" }],
      ["toolu_01Bw2rYKmTWkHo9PZqv3Kd1e", "get_time", { tz: "PST" }],
    ]);
    expect(final.choices[0]?.finish_reason).toBe("tool_calls");
    expect(final.usage?.total_tokens).toBe(472 + 89);
  });

  test("an Anthropic error event mid-stream is raised as an APIError", async () => {
    const c = client(run(fixture("stream-error.sse")).out);
    const stream = await c.chat.completions.create({ model: "claude-alias", messages: [{ role: "user", content: "hi" }], stream: true });
    let text = "";
    let error: unknown = null;
    try {
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
    } catch (e) {
      error = e;
    }
    expect(text).toBe("Once upon");
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect((error as InstanceType<typeof OpenAI.APIError>).message).toContain("Overloaded");
  });
});

describe("SseParser", () => {
  function parse(text: string, cuts: number[] = []): [string, string][] {
    const got: [string, string][] = [];
    const p = new SseParser((data, event) => got.push([event, data]));
    const bytes = enc.encode(text);
    let prev = 0;
    for (const c of [...cuts, bytes.length]) {
      p.push(bytes.subarray(prev, c));
      prev = c;
    }
    p.end();
    return got;
  }

  test("follows the SSE field rules: joined data lines, one optional space, comments, ids, events without data", () => {
    const text = ": keep-alive\n\nid: 7\nretry: 100\nevent: a\ndata:x\ndata:  y\n\nevent: empty\n\ndata\ndata: z\n\n";
    expect(parse(text)).toEqual([
      ["a", "x\n y"],
      ["", "\nz"],
    ]);
  });

  test("a UTF-8 character split across chunks arrives whole", () => {
    const text = "data: 🌍é\n\n";
    for (let i = 1; i < enc.encode(text).length; i++) expect(parse(text, [i])).toEqual([["", "🌍é"]]);
  });

  test("a leading byte-order mark is ignored, CRLF and LF may mix", () => {
    expect(parse("\uFEFFdata: a\r\n\r\ndata: b\n\r\n")).toEqual([
      ["", "a"],
      ["", "b"],
    ]);
  });
});
