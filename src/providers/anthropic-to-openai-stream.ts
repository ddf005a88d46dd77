// An OpenAI chat-completions stream as Anthropic Messages stream events, translated
// event by event: each complete OpenAI chunk becomes, at once, zero or more
// `event: <type>\ndata: {...}\n\n` events, in the order the Anthropic SDK's accumulator
// expects (pitfalls other gateways hit are noted where they are avoided):
//
//   message_start, ping,
//   (content_block_start, content_block_delta*, content_block_stop)*  indexes 0, 1, 2, ...
//   message_delta {stop_reason, stop_sequence, usage}, message_stop
//
// - Every event has an `event:` line: the SDK skips events without one.
// - A block is opened when its kind of delta first arrives and closed when another kind
//   arrives: reasoning → a thinking block (thinking_delta), content → a text block
//   (text_delta), each tool_calls[i] → its own tool_use block. A thinking_delta never goes
//   into a text block (Claude Code: "Content block is not a thinking block"), no delta
//   goes to an index not started ("Content block not found"), and empty deltas (vLLM's
//   first chunk has content "") open nothing, so no empty text block appears.
// - A tool_use block starts with input {} and its arguments follow as input_json_delta
//   fragments, passed on as they come: the SDK and Claude Code build the input from the
//   deltas only, never from content_block_start. Arguments sent in the same chunk as the
//   call's id and name, or all at once, are not lost. A call whose name comes after its
//   first fragment waits (its fragments held) until the name is known.
// - Usage comes at the end of an OpenAI stream (the include_usage chunk). message_start
//   says input_tokens 0 unless the backend already gave usage (vLLM with continuous
//   usage stats); message_delta carries the real input_tokens, cache_read_input_tokens
//   and output_tokens. The Anthropic SDK (1.14 here) overwrites its input and cache
//   counts with message_delta's when present (MessageDeltaUsage has them); a client
//   that reads input_tokens only from message_start sees 0.
// - The answer ends at `data: [DONE]`. A stream that closes after a finish_reason but
//   without [DONE] is ended normally by flush(); one that closes before any
//   finish_reason was cut, and flush() ends it with an `error` event (the proxy's
//   errorEvent is for read failures only), so the SDK raises instead of returning half
//   an answer as if complete.
// - An OpenAI/vLLM error event (`data: {"error":{...}}`) becomes Anthropic's `error`
//   event; nothing is sent after it, nor after message_stop.

import { KEEP_BYTES } from "../proxy/sse-usage-tap.ts";
import { anthropicErrorEvent, anthropicErrorType, anthropicStreamErrorType, type AnthropicErrorType } from "./anthropic-errors.ts";
import {
  anthropicUsageJson,
  fallbackToolId,
  isObj,
  matchedStop,
  messageId,
  reasoningOf,
  stopReasonFor,
  translatedUsage,
} from "./anthropic-to-openai-response.ts";
import { type OpenAiDeltaScan, scanOpenAiDelta } from "./openai-delta-scan.ts";
import { SseParser } from "./sse.ts";
import type { EncodeContext, StreamError, StreamTranslator, TranslatedUsage } from "./types.ts";
import { errorEventCode } from "./stream-error-code.ts";

type Json = Record<string, unknown>;

const enum Block {
  None,
  Text,
  Thinking,
  Tool,
}

interface ToolCallState {
  /** tool_calls[i].index in the OpenAI stream. */
  oaIndex: number;
  id: string;
  name: string;
  /** Its Anthropic block index; -1 until content_block_start went out. */
  block: number;
  /** Argument fragments that came before the name. */
  held: string;
}

const EMPTY = new Uint8Array(0);
const encoder = new TextEncoder();
const TEXT_START = '{"type":"text","text":""}';
const THINKING_START = '{"type":"thinking","thinking":"","signature":""}';

export class OpenAiToAnthropicStream implements StreamTranslator {
  private readonly parser = new SseParser((data) => this.onEvent(data));
  private readonly scan: OpenAiDeltaScan = { kind: "content", toolIndex: 0, literal: "" };
  /** Client events built during the current push. */
  private out = "";
  private started = false;
  /** message_stop or an error event went out: the answer is over for the client. */
  private ended = false;
  backendError: string | null = null;
  private msgId = "";
  private open = Block.None;
  private openIndex = -1;
  private nextIndex = 0;
  private readonly calls: ToolCallState[] = [];
  /** The tool call being streamed (its block open, or waiting for its name). */
  private call: ToolCallState | null = null;
  private finish: string | null = null;
  private sawFinish = false;
  private stopSeq: string | null = null;
  /** OpenAI sent its refusal text (delta.refusal): stop_reason refusal, as for a whole answer. */
  private refused = false;
  private usageSeen: TranslatedUsage | null = null;
  /** Kept generated text: whole JSON string literals, decoded only if an estimate is needed. */
  private readonly kept: string[] = [];
  private keptChars = 0;
  private keptFull = false;
  private generated = 0;

  constructor(private readonly ctx: EncodeContext) {}

  get usage(): TranslatedUsage | null {
    return this.usageSeen;
  }

  push(chunk: Uint8Array): Uint8Array {
    this.parser.push(chunk);
    return this.take();
  }

  flush(): Uint8Array {
    this.parser.end();
    if (!this.ended) {
      if (this.sawFinish) this.end();
      else {
        this.ended = true;
        this.out += anthropicErrorEvent(
          "api_error",
          "The backend ended the stream before the answer was complete (no finish_reason, no [DONE]).",
          "upstream_error",
        );
      }
    }
    return this.take();
  }

  keptText(): string {
    // The pieces are JSON string literals: one parse of them as an array decodes them all.
    return (JSON.parse(`[${this.kept.join(",")}]`) as string[]).join("");
  }

  coverage(): number {
    return this.keptChars === 0 ? 1 : this.generated / this.keptChars;
  }

  errorEvent(err: StreamError): Uint8Array {
    // After message_stop the client has the whole answer; an error would only make the SDK throw it away.
    if (this.ended) return EMPTY;
    this.ended = true;
    return encoder.encode(anthropicErrorEvent(anthropicStreamErrorType(err), err.message, err.code));
  }

  private take(): Uint8Array {
    if (this.out === "") return EMPTY;
    const b = encoder.encode(this.out);
    this.out = "";
    return b;
  }

  private onEvent(data: string): void {
    if (this.ended) return;
    if (data === "[DONE]") return this.end();
    // Most chunks are one text token or one argument fragment: read without JSON.parse.
    const sc = this.scan;
    if (this.started && scanOpenAiDelta(data, sc)) {
      if (sc.kind === "content") {
        if (sc.literal.length > 2) this.text(sc.literal);
        return;
      }
      const c = this.call;
      if (c !== null && c.oaIndex === sc.toolIndex && c.block >= 0) {
        if (sc.literal.length > 2) this.args(c.block, sc.literal);
        return;
      }
      // a fragment of a call not streaming yet: the parsing path handles it
    }
    let obj: unknown;
    try {
      obj = JSON.parse(data);
    } catch {
      return; // not a chunk (a stray keep-alive payload): nothing to translate
    }
    if (!isObj(obj)) return;
    if (obj.error !== undefined && obj.error !== null) {
      this.backendError ??= errorEventCode(obj);
      return this.relayBackendError(obj.error);
    }
    if (isObj(obj.usage)) this.usageSeen = translatedUsage(obj.usage) ?? this.usageSeen;
    if (!this.started) this.start(obj.id);
    const choice = Array.isArray(obj.choices) ? obj.choices[0] : undefined;
    if (!isObj(choice)) return; // the usage chunk (choices: [])
    const d = choice.delta;
    if (isObj(d)) {
      const r = reasoningOf(d);
      if (r !== "") this.thinking(JSON.stringify(r));
      if (typeof d.content === "string" && d.content !== "") this.text(JSON.stringify(d.content));
      if (typeof d.refusal === "string" && d.refusal !== "") {
        this.refused = true;
        this.text(JSON.stringify(d.refusal));
      }
      if (Array.isArray(d.tool_calls)) for (const tc of d.tool_calls) if (isObj(tc)) this.toolCall(tc);
    }
    if (typeof choice.finish_reason === "string") {
      this.finish = choice.finish_reason;
      this.sawFinish = true;
      this.stopSeq = choice.finish_reason === "stop" ? matchedStop(choice) : null;
    }
  }

  private start(completionId: unknown): void {
    this.started = true;
    this.msgId = messageId(completionId);
    const u = this.usageSeen;
    const usage = u
      ? anthropicUsageJson({ ...u, completionTokens: 0 })
      : '"input_tokens":0,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":0';
    this.out +=
      `event: message_start\ndata: {"type":"message_start","message":{"id":${JSON.stringify(this.msgId)},"type":"message","role":"assistant",` +
      `"model":${JSON.stringify(this.ctx.clientModel)},"content":[],"stop_reason":null,"stop_sequence":null,"usage":{${usage}}}}\n\n` +
      `event: ping\ndata: {"type":"ping"}\n\n`;
  }

  private begin(kind: Block, block: string): void {
    this.open = kind;
    this.openIndex = this.nextIndex++;
    this.out += `event: content_block_start\ndata: {"type":"content_block_start","index":${this.openIndex},"content_block":${block}}\n\n`;
  }

  /** Ends the open block (starting first a tool call still waiting for its name, so its arguments are not lost). */
  private close(): void {
    if (this.call !== null && this.call.block < 0) this.startCall(this.call);
    this.call = null;
    if (this.open === Block.None) return;
    this.out += `event: content_block_stop\ndata: {"type":"content_block_stop","index":${this.openIndex}}\n\n`;
    this.open = Block.None;
  }

  /** A text delta; `t` is a JSON string literal (quotes and escapes included), put into the event as it is. */
  private text(t: string): void {
    if (this.open !== Block.Text) {
      this.close();
      this.begin(Block.Text, TEXT_START);
    }
    this.out += `event: content_block_delta\ndata: {"type":"content_block_delta","index":${this.openIndex},"delta":{"type":"text_delta","text":${t}}}\n\n`;
    this.keep(t);
  }

  private thinking(t: string): void {
    if (this.open !== Block.Thinking) {
      this.close();
      this.begin(Block.Thinking, THINKING_START);
    }
    this.out += `event: content_block_delta\ndata: {"type":"content_block_delta","index":${this.openIndex},"delta":{"type":"thinking_delta","thinking":${t}}}\n\n`;
    this.keep(t);
  }

  private toolCall(tc: Json): void {
    const fn = isObj(tc.function) ? tc.function : null;
    const id = typeof tc.id === "string" && tc.id !== "" ? tc.id : null;
    let index: number;
    if (typeof tc.index === "number") index = tc.index;
    // No index (a few servers omit it): a new id is a new call, anything else continues the current one.
    else if (id !== null && (this.call === null || (this.call.id !== "" && this.call.id !== id))) index = this.calls.length;
    else index = this.call?.oaIndex ?? 0;

    let c = this.call?.oaIndex === index ? this.call : this.latestCall(index);
    // A different id under a known index is another call: servers that number every call 0 exist.
    if (c !== undefined && id !== null && c.id !== "" && c.id !== id) c = undefined;
    if (c === undefined) {
      this.close();
      c = { oaIndex: index, id: "", name: "", block: -1, held: "" };
      this.calls.push(c);
      this.call = c;
    }
    if (id !== null && c.id === "") c.id = id;
    if (fn !== null && typeof fn.name === "string" && fn.name !== "" && c.name === "") c.name = fn.name;
    const a = fn === null ? "" : typeof fn.arguments === "string" ? fn.arguments : isObj(fn.arguments) ? JSON.stringify(fn.arguments) : "";
    if (c.block < 0) {
      if (c.name === "") {
        c.held += a;
        return;
      }
      this.startCall(c);
    }
    // A fragment for an earlier call (no known server interleaves them) still goes to that call's block.
    if (a !== "") this.args(c.block, JSON.stringify(a));
  }

  /** The last call streamed under this index (calls are few: a scan beats a map). */
  private latestCall(index: number): ToolCallState | undefined {
    for (let i = this.calls.length - 1; i >= 0; i--) if (this.calls[i]!.oaIndex === index) return this.calls[i];
    return undefined;
  }

  private startCall(c: ToolCallState): void {
    if (c.id === "") c.id = fallbackToolId(this.msgId, c.oaIndex);
    this.begin(Block.Tool, `{"type":"tool_use","id":${JSON.stringify(c.id)},"name":${JSON.stringify(c.name)},"input":{}}`);
    c.block = this.openIndex;
    if (c.held !== "") {
      this.args(c.block, JSON.stringify(c.held));
      c.held = "";
    }
  }

  private args(block: number, a: string): void {
    this.out += `event: content_block_delta\ndata: {"type":"content_block_delta","index":${block},"delta":{"type":"input_json_delta","partial_json":${a}}}\n\n`;
    this.keep(a);
  }

  /** message_delta and message_stop: the answer is complete. */
  private end(): void {
    if (!this.started) this.start(undefined);
    this.close();
    this.ended = true;
    const stop = this.refused && this.calls.length === 0 ? "refusal" : stopReasonFor(this.finish, this.calls.length > 0, this.stopSeq);
    const seq = stop === "stop_sequence" ? JSON.stringify(this.stopSeq) : "null";
    const usage = this.usageSeen ? anthropicUsageJson(this.usageSeen) : '"output_tokens":0';
    this.out +=
      `event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"${stop}","stop_sequence":${seq}},"usage":{${usage}}}\n\n` +
      `event: message_stop\ndata: {"type":"message_stop"}\n\n`;
  }

  /** An error the backend reported in the stream (OpenAI and vLLM: data: {"error":{message,type,code}}). */
  private relayBackendError(e: unknown): void {
    this.ended = true;
    let message = "The backend reported an error in the stream.";
    let type: AnthropicErrorType = "api_error";
    let code = "upstream_error";
    if (typeof e === "string" && e !== "") message = e;
    else if (isObj(e)) {
      if (typeof e.message === "string" && e.message !== "") message = e.message;
      // vLLM puts the HTTP status it would have answered with in `code`.
      const status = typeof e.code === "number" ? e.code : typeof e.code === "string" && /^\d{3}$/.test(e.code) ? Number(e.code) : 0;
      if (status >= 400) type = anthropicErrorType(status);
      else if (typeof e.code === "string" && e.code !== "") code = e.code;
    }
    this.out += anthropicErrorEvent(type, message, code);
  }

  /**
   * Generated text for an estimate: the JSON string literals as they went out (lengths
   * counted with their escapes, in the kept text and the total alike), decoded only if
   * an estimate is ever needed; whole pieces, up to KEEP_BYTES characters.
   */
  private keep(literal: string): void {
    const n = literal.length - 2;
    this.generated += n;
    if (this.keptFull) return;
    if (this.keptChars + n <= KEEP_BYTES) {
      this.kept.push(literal);
      this.keptChars += n;
    } else this.keptFull = true;
  }
}
