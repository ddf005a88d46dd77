// An Anthropic Messages event stream as an OpenAI chat-completions chunk stream, event by
// event: each complete Anthropic event is answered at once by zero or more `data:` chunks.
//
//   message_start                  → the first chunk, delta {role: "assistant", content: ""}
//   content_block_start text       → nothing (its text, if any, as content)
//   content_block_start tool_use   → delta.tool_calls[{index, id, type, function{name, arguments: ""}}]
//                                    (index counts tool blocks from 0, as OpenAI counts calls)
//   content_block_delta text_delta → delta.content
//   ... thinking_delta             → delta.reasoning_content (as DeepSeek and vLLM send reasoning)
//   ... input_json_delta           → delta.tool_calls[{index, function{arguments: fragment}}]
//   message_delta                  → a chunk with finish_reason; its usage is kept
//   message_stop                   → the usage chunk (choices: []) if the client asked for it, data: [DONE]
//   error                          → data: {"error":{...}} (OpenAI SDKs raise it), then nothing more
//   ping, content_block_stop, signature_delta, anything newer → nothing
//
// Usage: Anthropic's message_start reports the prompt (input and cache tokens) and a
// placeholder output count; the real output count comes in message_delta (cumulative).
// `usage` stays null until that arrives, so a stream cut before it is estimated rather
// than billed as one output token.
//
// Without message_stop nothing is invented at flush(): a stream that just ends was cut,
// and [DONE] would tell the client it had the whole answer.

import { errorBody } from "../errors.ts";
import { finishReason, openAiErrorFromStreamEvent, openAiUsageJson, translatedUsage } from "./openai-to-anthropic-answer.ts";
import { scanDelta, type DeltaKind, type DeltaScan } from "./anthropic-delta-scan.ts";
import { SseParser } from "./sse.ts";
import type { EncodeContext, StreamError, StreamTranslator, TranslatedUsage } from "./types.ts";
import { errorEventCode } from "./stream-error-code.ts";

/** Generated text kept for a token estimate (UTF-16 units, about 16 KiB); longer answers are extrapolated. */
export const KEEP_CHARS = 16384;
const EMPTY = new Uint8Array(0);
const encoder = new TextEncoder();
const DONE = "data: [DONE]\n\n";

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

export class AnthropicToOpenAiStream implements StreamTranslator {
  private readonly parser = new SseParser((data) => this.onEvent(data));
  /** OpenAI chunks made from the current push, sent at its end. */
  private out = "";
  /** `data: {"id":..,"object":..,"created":..,"model":..,"choices":[` — every chunk starts so. */
  private head = "";
  /**
   * Every chunk but the usage chunk ends so. Like OpenAI, `"usage":null` is on each chunk
   * when the client asked for usage (the same shape openai-chunks.ts writes for Gemini).
   */
  private readonly end: string;
  /** message_stop or an error event was seen: the stream is over for the client. */
  private done = false;
  backendError: string | null = null;
  private finished = false;
  /** Anthropic block index → OpenAI tool call index (undefined: not a tool_use block). */
  private readonly toolOfBlock: number[] = [];
  private tools = 0;
  private prompt: Json | null = null;
  private final: TranslatedUsage | null = null;
  /** Generated text as JSON string contents (escapes intact), at most about KEEP_CHARS. */
  private kept = "";
  private keptFull = false;
  /** Length of all generated text seen, counted the same way (escaped). */
  private total = 0;
  private readonly scan: DeltaScan = { kind: "text", index: 0, literal: "" };

  constructor(private readonly ctx: EncodeContext) {
    this.end = ctx.includeUsage ? '],"usage":null}\n\n' : "]}\n\n";
  }

  get usage(): TranslatedUsage | null {
    return this.final;
  }

  push(chunk: Uint8Array): Uint8Array {
    if (this.done) return EMPTY;
    this.parser.push(chunk);
    return this.take();
  }

  flush(): Uint8Array {
    if (this.done) return EMPTY;
    this.parser.end();
    return this.take();
  }

  keptText(): string {
    try {
      return JSON.parse(`"${this.kept}"`) as string;
    } catch {
      return this.kept; // cannot happen for literals the backend sent as valid JSON
    }
  }

  coverage(): number {
    return this.kept.length === 0 ? 1 : this.total / this.kept.length;
  }

  errorEvent(err: StreamError): Uint8Array {
    return encoder.encode(`data: ${errorBody(err.code, err.message, err.type)}\n\n`);
  }

  private take(): Uint8Array {
    if (this.out === "") return EMPTY;
    const bytes = encoder.encode(this.out);
    this.out = "";
    return bytes;
  }

  /**
   * Keeps a fragment for the estimate, as the JSON string literal it arrived in (decoded
   * only if keptText() is ever called): whole literals, so no escape is cut in two; the
   * one that does not fit is decoded, cut and re-escaped (once per stream at most).
   */
  private keep(literal: string): void {
    const n = literal.length - 2;
    this.total += n;
    if (this.keptFull) return;
    const room = KEEP_CHARS - this.kept.length;
    if (n <= room) {
      this.kept += literal.slice(1, -1);
      return;
    }
    this.keptFull = true;
    const text = JSON.parse(literal) as string;
    this.kept += JSON.stringify(text.slice(0, room)).slice(1, -1);
  }

  /** One chunk with this delta (JSON) and finish_reason (JSON). */
  private chunk(delta: string, finish = "null"): void {
    if (this.head === "") this.start(null);
    this.out += `${this.head}{"index":0,"delta":${delta},"logprobs":null,"finish_reason":${finish}}${this.end}`;
  }

  private start(message: Json | null): void {
    // A stream that skips message_start (not Anthropic's own) still gets a well-formed first chunk.
    const id = message !== null && typeof message.id === "string" ? message.id : `chatcmpl-${this.ctx.created}`;
    this.head = `data: {"id":${JSON.stringify(id)},"object":"chat.completion.chunk","created":${this.ctx.created},"model":${JSON.stringify(this.ctx.clientModel)},"choices":[`;
    this.out += `${this.head}{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}${this.end}`;
  }

  private onEvent(data: string): void {
    if (this.done) return;
    if (scanDelta(data, this.scan)) {
      this.delta(this.scan.kind, this.scan.index, this.scan.literal);
      return;
    }
    // the other frequent events that need nothing, recognized without parsing them
    if (data.startsWith('{"type":"content_block_stop"') || data === '{"type": "ping"}' || data === '{"type":"ping"}') return;
    let ev: unknown;
    try {
      ev = JSON.parse(data);
    } catch {
      return; // not JSON: a cut last event (see SseParser.end) or a backend bug; nothing to translate
    }
    if (!isObject(ev)) return;
    switch (ev.type) {
      case "message_start": {
        const m = isObject(ev.message) ? ev.message : null;
        if (m !== null && isObject(m.usage)) this.prompt = m.usage;
        if (this.head === "") this.start(m);
        return;
      }
      case "content_block_start":
        if (isObject(ev.content_block)) this.blockStart(ev.index, ev.content_block);
        return;
      case "content_block_delta":
        if (isObject(ev.delta)) this.blockDelta(ev.index, ev.delta);
        return;
      case "message_delta":
        this.messageDelta(ev);
        return;
      case "message_stop":
        this.stop();
        return;
      case "error":
        this.done = true;
        this.backendError ??= errorEventCode(ev);
        this.out += `data: ${openAiErrorFromStreamEvent(ev.error)}\n\n`;
        return;
    }
  }

  private blockStart(index: unknown, block: Json): void {
    switch (block.type) {
      case "text":
        if (typeof block.text === "string" && block.text !== "") this.delta("text", index, JSON.stringify(block.text));
        return;
      case "thinking":
        if (typeof block.thinking === "string" && block.thinking !== "") this.delta("thinking", index, JSON.stringify(block.thinking));
        return;
      case "tool_use": {
        if (typeof index !== "number") return;
        const t = this.tools++;
        this.toolOfBlock[index] = t;
        const name = typeof block.name === "string" ? block.name : "";
        const id = typeof block.id === "string" ? block.id : `call_${t}`;
        this.chunk(`{"tool_calls":[{"index":${t},"id":${JSON.stringify(id)},"type":"function","function":{"name":${JSON.stringify(name)},"arguments":""}}]}`);
        // Anthropic streams the input as deltas from {}; an input given whole at the start is sent as one fragment.
        if (isObject(block.input) && Object.keys(block.input).length > 0) this.delta("input_json", index, JSON.stringify(JSON.stringify(block.input)));
        return;
      }
    }
  }

  /** A content_block_delta parsed the slow way (a shape scanDelta does not read). */
  private blockDelta(index: unknown, d: Json): void {
    if (typeof index !== "number") return;
    if (d.type === "text_delta" && typeof d.text === "string") this.delta("text", index, JSON.stringify(d.text));
    else if (d.type === "thinking_delta" && typeof d.thinking === "string") this.delta("thinking", index, JSON.stringify(d.thinking));
    else if (d.type === "input_json_delta" && typeof d.partial_json === "string") this.delta("input_json", index, JSON.stringify(d.partial_json));
  }

  /** A fragment of generated text, as a JSON string literal, into its OpenAI delta. */
  private delta(kind: DeltaKind, index: unknown, literal: string): void {
    if (literal.length === 2) return; // "" (Anthropic starts tool input with an empty fragment)
    if (kind === "text") this.chunk(`{"content":${literal}}`);
    else if (kind === "thinking") this.chunk(`{"reasoning_content":${literal}}`);
    else {
      const t = typeof index === "number" ? this.toolOfBlock[index] : undefined;
      if (t === undefined) return; // input for a block that is not a tool_use we announced
      this.chunk(`{"tool_calls":[{"index":${t},"function":{"arguments":${literal}}}]}`);
    }
    this.keep(literal);
  }

  private messageDelta(ev: Json): void {
    if (isObject(ev.usage)) {
      // Cumulative counts; recent API versions repeat the input and cache counts here.
      const u = ev.usage;
      const p = this.prompt ?? {};
      this.final = translatedUsage({
        input_tokens: u.input_tokens ?? p.input_tokens,
        cache_read_input_tokens: u.cache_read_input_tokens ?? p.cache_read_input_tokens,
        cache_creation_input_tokens: u.cache_creation_input_tokens ?? p.cache_creation_input_tokens,
        output_tokens: u.output_tokens,
      });
    }
    const d = isObject(ev.delta) ? ev.delta : null;
    if (d !== null && typeof d.stop_reason === "string" && !this.finished) {
      this.finished = true;
      this.chunk("{}", `"${finishReason(d.stop_reason)}"`);
    }
  }

  private stop(): void {
    // OpenAI streams always end with a finish_reason; Anthropic's message_delta gives it.
    if (!this.finished) {
      this.finished = true;
      this.chunk("{}", '"stop"');
    }
    this.done = true;
    if (this.ctx.includeUsage && this.final !== null) this.out += `${this.head}],"usage":${openAiUsageJson(this.final)}}\n\n`;
    this.out += DONE;
  }
}
