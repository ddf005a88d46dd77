// Reads token usage from a Server-Sent-Events answer as it passes, without holding
// content back and without JSON-parsing every chunk.
//
// - Bytes are passed on per complete event. Only the unfinished tail of an event split
//   across network chunks waits for its end, which costs the client nothing: an SSE
//   parser dispatches an event only at its blank line anyway.
// - The common chunk (whole events, no usage object) is scanned as bytes, never decoded,
//   and passed on as the very same Uint8Array.
// - Only an event whose `"usage"` is followed by an object is decoded and parsed (once
//   per stream, normally: the final usage chunk).
// - When the gateway itself asked for usage (stream_options.include_usage, which the
//   client did not set), the client must see the stream it would have got directly:
//   the extra usage chunk (choices: []) is dropped, and the `"usage":null` member that
//   OpenAI adds to every other chunk when include_usage is on is cut out.
// - For the estimate when no usage arrives (backend without usage support, or a stream
//   cut short), the generated text's raw JSON string bytes are kept (bounded, see
//   KEEP_BYTES) and decoded only if an estimate is ever needed.
// - An error the backend reports inside the stream (vLLM and OpenAI: data: {"error":
//   {...}}; Anthropic and the Responses API: an event of type "error", or
//   response.failed) is passed on as sent and noted (backendError), so that the record
//   says the answer failed although its status was 200. A chunk is decoded for this
//   only when its bytes hold `"error"` outside a string.

import type { TokenUsage } from "../metering/usage.ts";
import { mergeAnthropicUsage, usageFromObject } from "./usage-parse.ts";
import { errorEventCode } from "../providers/stream-error-code.ts";

const USAGE_KEY = '"usage"';
/** An unfinished event longer than this is passed on as is and the tap stops editing. */
const MAX_PENDING = 1 << 20;
/** Generated text kept for a tokenizer estimate; longer answers are extrapolated. */
export const KEEP_BYTES = 16384;
const EMPTY = new Uint8Array(0);
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const USAGE_BYTES = Buffer.from(USAGE_KEY);
// Buffer's search methods work on any Uint8Array; calling them directly saves a Buffer
// view per chunk.
const indexOfBytes = Buffer.prototype.indexOf as (this: Uint8Array, needle: Uint8Array, from?: number) => number;
const lastIndexOfBytes = Buffer.prototype.lastIndexOf as (this: Uint8Array, needle: Uint8Array) => number;
/** this[from, to) into target at `at`: a memcpy, without the view subarray() makes (per chunk, twice). */
const copyBytes = Buffer.prototype.copy as (this: Uint8Array, target: Uint8Array, at: number, from: number, to: number) => number;
const ERROR_BYTES = Buffer.from('"error"');
const LF2 = Buffer.from("\n\n");
const CRLF2 = Buffer.from("\r\n\r\n");

export interface SseTapOptions {
  /** Cut the usage chunk and usage:null members (the gateway added include_usage). */
  hideUsage: boolean;
  /** JSON keys whose string values are generated text ("content", "text", "delta", ...). */
  textKeys: readonly string[];
  /**
   * Anthropic's stream: message_start carries the input counts, message_delta the output
   * count. Usage counts as reported only once a message_delta came: a stream cut before
   * has only the start's placeholder output count, and is estimated instead.
   */
  anthropic?: boolean;
}

/** Index just past the last event terminator (blank line) in `b`, 0 when none. */
function lastEventEnd(b: Uint8Array): number {
  const n = b.length;
  // the usual case: the chunk ends with a whole event
  if (n >= 2 && b[n - 1] === 10 && b[n - 2] === 10) return n;
  const lf = lastIndexOfBytes.call(b, LF2);
  const crlf = lastIndexOfBytes.call(b, CRLF2);
  return Math.max(lf < 0 ? 0 : lf + 2, crlf < 0 ? 0 : crlf + 4);
}

function skipWsBytes(b: Uint8Array, i: number): number {
  while (i < b.length && b[i]! <= 32) i++;
  return i;
}

/** Index just past the JSON string starting at `i`. */
function stringEndBytes(b: Uint8Array, i: number): number {
  let j = i + 1;
  while (j < b.length) {
    const c = b[j]!;
    if (c === 92) j += 2;
    else if (c === 34) return j + 1;
    else j++;
  }
  return b.length;
}

function eventStart(text: string, at: number): number {
  const lf = text.lastIndexOf("\n\n", at);
  const crlf = text.lastIndexOf("\r\n\r\n", at);
  return Math.max(lf < 0 ? 0 : lf + 2, crlf < 0 ? 0 : crlf + 4);
}

function eventEnd(text: string, at: number): number {
  const lf = text.indexOf("\n\n", at);
  const crlf = text.indexOf("\r\n\r\n", at);
  if (lf < 0 && crlf < 0) return text.length;
  if (lf < 0) return crlf + 4;
  if (crlf < 0) return lf + 2;
  return Math.min(lf + 2, crlf + 4);
}

/** The data of one SSE event (its data: lines joined), or null when it has none. */
function eventData(event: string): string | null {
  let data: string | null = null;
  for (const raw of event.split("\n")) {
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    if (!line.startsWith("data:")) continue;
    const v = line.charCodeAt(5) === 32 ? line.slice(6) : line.slice(5);
    data = data === null ? v : data + "\n" + v;
  }
  return data;
}

function skipWs(text: string, i: number): number {
  while (i < text.length && text.charCodeAt(i) <= 32) i++;
  return i;
}

export class SseUsageTap {
  /** The last usage object the backend sent (the final one wins). */
  usage: TokenUsage | null = null;
  /** The backend's own code (or type) of the first error event it sent in the stream, else null. */
  backendError: string | null = null;
  /** Bytes of generated text (as JSON string contents) seen. */
  private textBytes = 0;
  /** Grown as text arrives (most answers are short): 1000 streams must not cost 16 MB. */
  private kept: Uint8Array = EMPTY;
  private keptLen = 0;
  private keptFull = false;
  /** The unfinished tail of an event split across chunks. */
  private pending: Uint8Array | null = null;
  /** Anthropic: the usage of message_start, until a message_delta completes it. */
  private started: TokenUsage | null = null;
  private passthrough = false;
  private readonly keys: Uint8Array[];

  constructor(private readonly opts: SseTapOptions) {
    this.keys = opts.textKeys.map((k) => Buffer.from(`"${k}":`));
  }

  /** Generated text kept for an estimate (decoded now, on the slow path only). */
  keptText(): string {
    const raw = decoder.decode(this.kept.subarray(0, this.keptLen));
    try {
      return JSON.parse(`"${raw}"`) as string;
    } catch {
      return raw;
    }
  }

  /** How much more text there was than was kept (>= 1), to extrapolate an estimate. */
  coverage(): number {
    return this.keptLen === 0 ? 1 : this.textBytes / this.keptLen;
  }

  /** Bytes to send on for this chunk: the chunk itself, an edited copy, or nothing yet. */
  push(chunk: Uint8Array): Uint8Array {
    if (this.passthrough) return chunk;
    const data = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    const carried = this.pending !== null;
    this.pending = null;
    const b = data;
    const end = lastEventEnd(b);
    if (end === 0) {
      if (data.byteLength > MAX_PENDING) {
        // Not a real event stream (or an absurd event): stop editing, pass it all on.
        this.passthrough = true;
        return data;
      }
      this.pending = data;
      return EMPTY;
    }
    if (end < b.length) this.pending = b.subarray(end);
    const complete = end === b.length ? b : b.subarray(0, end);
    const out = this.process(complete);
    if (out === complete && !carried && end === b.length) return chunk;
    return out;
  }

  /** At the end of the stream: whatever unfinished event is left, processed and passed on. */
  flush(): Uint8Array {
    const rest = this.pending;
    this.pending = null;
    if (!rest || rest.byteLength === 0) return EMPTY;
    if (this.passthrough) return rest;
    return this.process(rest);
  }

  private process(b: Uint8Array): Uint8Array {
    this.collectText(b);
    if (this.backendError === null && indexOfBytes.call(b, ERROR_BYTES) >= 0) this.findError(decoder.decode(b));
    let at = indexOfBytes.call(b, USAGE_BYTES);
    if (at < 0) return b;
    // Usage members: `null` ones are cut here as bytes (OpenAI puts one on every chunk
    // once include_usage is on); an object means the usage chunk: decode that event.
    const cuts: number[] = [];
    while (at >= 0) {
      const colon = skipWsBytes(b, at + USAGE_BYTES.length);
      if (b[colon] !== 58 /* : */) {
        at = indexOfBytes.call(b, USAGE_BYTES, colon);
        continue;
      }
      const v = skipWsBytes(b, colon + 1);
      if (b[v] === 110 /* n */ && b[v + 1] === 117 && b[v + 2] === 108 && b[v + 3] === 108) {
        if (this.opts.hideUsage) nullMemberBytes(b, at, v + 4, cuts);
        at = indexOfBytes.call(b, USAGE_BYTES, v + 4);
        continue;
      }
      return encoder.encode(this.handleUsage(decoder.decode(b)));
    }
    return cuts.length === 0 ? b : cutOut(b, cuts);
  }

  private collectText(b: Uint8Array): void {
    for (const key of this.keys) {
      let at = indexOfBytes.call(b, key);
      while (at >= 0) {
        const q = skipWsBytes(b, at + key.length);
        if (b[q] !== 34 /* " */) {
          at = indexOfBytes.call(b, key, q);
          continue;
        }
        const end = stringEndBytes(b, q);
        const len = end - q - 2;
        if (len > 0) {
          this.textBytes += len;
          if (!this.keptFull) {
            // whole pieces only, so the kept bytes stay valid JSON string content
            const need = this.keptLen + len;
            if (need <= KEEP_BYTES) {
              if (need > this.kept.length) {
                const grown = new Uint8Array(Math.min(KEEP_BYTES, Math.max(256, need * 2)));
                copyBytes.call(this.kept, grown, 0, 0, this.keptLen);
                this.kept = grown;
              }
              copyBytes.call(b, this.kept, this.keptLen, q + 1, end - 1);
              this.keptLen = need;
            } else this.keptFull = true;
          }
        }
        at = indexOfBytes.call(b, key, end);
      }
    }
  }

  /** Note the first event of `text` that is the backend's error report. */
  private findError(text: string): void {
    for (const event of text.split(/\r?\n\r?\n/)) {
      if (!event.includes('"error"')) continue;
      const data = eventData(event);
      if (data === null) continue;
      let obj: unknown;
      try {
        obj = JSON.parse(data);
      } catch {
        continue;
      }
      const code = errorEventCode(obj);
      if (code !== null) {
        this.backendError = code;
        return;
      }
    }
  }

  /** Read usage from the events that carry it; cut what the client did not ask for. */
  private handleUsage(text: string): string {
    let out = "";
    let copied = 0; // text[0, copied) is already in out
    let at = text.indexOf(USAGE_KEY);
    while (at >= 0) {
      const colon = skipWs(text, at + USAGE_KEY.length);
      if (text.charCodeAt(colon) !== 58 /* : */) {
        // "usage" as a value, not a key
        at = text.indexOf(USAGE_KEY, colon);
        continue;
      }
      const v = skipWs(text, colon + 1);
      const isNull = text.startsWith("null", v);
      if (isNull) {
        if (this.opts.hideUsage) {
          const [cutFrom, cutTo] = nullMemberSpan(text, at, v + 4);
          out += text.slice(copied, cutFrom);
          copied = cutTo;
        }
        at = text.indexOf(USAGE_KEY, v + 4);
        continue;
      }
      const evStart = eventStart(text, at);
      const evEnd = eventEnd(text, at);
      const drop = this.readUsageEvent(text.slice(evStart, evEnd));
      if (drop && this.opts.hideUsage && evStart >= copied) {
        out += text.slice(copied, evStart);
        copied = evEnd;
      }
      at = text.indexOf(USAGE_KEY, evEnd);
    }
    if (copied === 0) return text;
    return out + text.slice(copied);
  }

  /** Parse one event that carries a usage object; true when it is the usage-only chunk. */
  private readUsageEvent(event: string): boolean {
    const data = eventData(event);
    if (data === null) return false;
    let obj: Record<string, unknown>;
    try {
      obj = JSON.parse(data) as Record<string, unknown>;
    } catch {
      return false;
    }
    if (this.opts.anthropic) {
      if (obj.type === "message_start") this.started = mergeAnthropicUsage(null, (obj.message as Record<string, unknown> | undefined)?.usage);
      else if (obj.usage) this.usage = mergeAnthropicUsage(this.usage ?? this.started, obj.usage);
      return false;
    }
    const direct = usageFromObject(obj.usage);
    // Responses API: usage sits in the response object of response.completed & co.
    const nested = direct ?? usageFromObject((obj.response as Record<string, unknown> | undefined)?.usage);
    if (nested) this.usage = nested;
    return direct !== null && Array.isArray(obj.choices) && obj.choices.length === 0;
  }
}

/** Push the span [from, to) to cut for a `"usage":null` member (bytes). */
function nullMemberBytes(b: Uint8Array, keyAt: number, valueEnd: number, cuts: number[]): void {
  let i = keyAt - 1;
  while (i >= 0 && b[i]! <= 32) i--;
  if (b[i] === 44 /* , */) {
    cuts.push(i, valueEnd);
    return;
  }
  // first member: take the comma (and spaces) after it instead
  let a = skipWsBytes(b, valueEnd);
  if (b[a] === 44) a = skipWsBytes(b, a + 1);
  cuts.push(keyAt, a);
}

/** b without the spans in cuts ([from, to) pairs, in order). */
function cutOut(b: Uint8Array, cuts: number[]): Uint8Array {
  let removed = 0;
  for (let i = 0; i < cuts.length; i += 2) removed += cuts[i + 1]! - cuts[i]!;
  const out = new Uint8Array(b.length - removed);
  let from = 0;
  let w = 0;
  for (let i = 0; i < cuts.length; i += 2) {
    copyBytes.call(b, out, w, from, cuts[i]!);
    w += cuts[i]! - from;
    from = cuts[i + 1]!;
  }
  copyBytes.call(b, out, w, from, b.length);
  return out;
}

/** The span to cut for a `"usage":null` member at `keyAt` whose value ends at `valueEnd` (text). */
function nullMemberSpan(text: string, keyAt: number, valueEnd: number): [number, number] {
  let b = keyAt - 1;
  while (b >= 0 && text.charCodeAt(b) <= 32) b--;
  if (text.charCodeAt(b) === 44 /* , */) return [b, valueEnd];
  // first member: take the comma (and spaces) after it instead
  let a = skipWs(text, valueEnd);
  if (text.charCodeAt(a) === 44) a = skipWs(text, a + 1);
  return [keyAt, a];
}
