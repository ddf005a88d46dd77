// Reads token usage from a Server-Sent-Events answer as it passes, without holding
// content back and without JSON-parsing every chunk.
//
// - Bytes are passed on per complete event. Only the unfinished tail of an event split
//   across network chunks waits for its end, which costs the client nothing: an SSE
//   parser dispatches an event only at its blank line anyway.
// - A chunk without the bytes `"usage"` is passed on as the very same Uint8Array.
// - Only an event whose `"usage"` is followed by an object is parsed (once per stream,
//   normally: the final usage chunk).
// - When the gateway itself asked for usage (stream_options.include_usage, which the
//   client did not set), the client must see the stream it would have got directly:
//   the extra usage chunk (choices: []) is dropped, and the `"usage":null` member that
//   OpenAI adds to every other chunk when include_usage is on is cut out.
// - For the estimate when no usage arrives (backend without usage support, or a stream
//   cut short), generated text is collected from the events (bounded; see KEEP_CHARS).

import type { TokenUsage } from "../metering/usage.ts";
import { usageFromObject } from "./usage-parse.ts";

const USAGE_KEY = '"usage"';
/** An unfinished event longer than this is passed on as is and the tap stops editing. */
const MAX_PENDING = 1 << 20;
/** Generated text kept for a tokenizer estimate; longer answers are extrapolated. */
export const KEEP_CHARS = 16384;
const EMPTY = new Uint8Array(0);
const encoder = new TextEncoder();

export interface SseTapOptions {
  /** Cut the usage chunk and usage:null members (the gateway added include_usage). */
  hideUsage: boolean;
  /** JSON keys whose string values are generated text ("content", "text", "delta", ...). */
  textKeys: readonly string[];
}

/** Index just past the last event terminator (blank line) in `text`, 0 when none. */
function lastEventEnd(text: string): number {
  const lf = text.lastIndexOf("\n\n");
  const crlf = text.lastIndexOf("\r\n\r\n");
  return Math.max(lf < 0 ? 0 : lf + 2, crlf < 0 ? 0 : crlf + 4);
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

/** Index just past the JSON string starting at `i`. */
function stringEnd(text: string, i: number): number {
  let j = i + 1;
  while (j < text.length) {
    const c = text.charCodeAt(j);
    if (c === 92) j += 2;
    else if (c === 34) return j + 1;
    else j++;
  }
  return text.length;
}

export class SseUsageTap {
  /** The last usage object the backend sent (the final one wins). */
  usage: TokenUsage | null = null;
  /** Characters of generated text seen. */
  textChars = 0;
  private kept = "";
  private pending = "";
  private passthrough = false;
  private readonly decoder = new TextDecoder();
  private readonly keys: string[];

  constructor(private readonly opts: SseTapOptions) {
    this.keys = opts.textKeys.map((k) => `"${k}":`);
  }

  /** Generated text kept for an estimate (at most KEEP_CHARS). */
  keptText(): string {
    return this.kept;
  }

  /** Bytes to send on for this chunk: the chunk itself, an edited copy, or nothing yet. */
  push(chunk: Uint8Array): Uint8Array {
    if (this.passthrough) return chunk;
    const s = this.decoder.decode(chunk, { stream: true });
    const carried = this.pending !== "";
    const text = carried ? this.pending + s : s;
    const end = lastEventEnd(text);
    if (end === 0) {
      if (text.length > MAX_PENDING) {
        // Not a real event stream (or an absurd event): stop editing, pass it all on.
        this.passthrough = true;
        this.pending = "";
        return encoder.encode(text);
      }
      this.pending = text;
      return EMPTY;
    }
    const complete = end === text.length ? text : text.slice(0, end);
    this.pending = end === text.length ? "" : text.slice(end);
    const out = this.process(complete);
    if (out === complete && !carried && this.pending === "") return chunk;
    return out.length === 0 ? EMPTY : encoder.encode(out);
  }

  /** At the end of the stream: whatever unfinished event is left, processed and passed on. */
  flush(): Uint8Array {
    const rest = this.pending + this.decoder.decode();
    this.pending = "";
    if (rest === "" || this.passthrough) return rest === "" ? EMPTY : encoder.encode(rest);
    const out = this.process(rest);
    return out.length === 0 ? EMPTY : encoder.encode(out);
  }

  private process(complete: string): string {
    this.collectText(complete);
    if (!complete.includes(USAGE_KEY)) return complete;
    return this.handleUsage(complete);
  }

  private collectText(text: string): void {
    for (const key of this.keys) {
      let at = text.indexOf(key);
      while (at >= 0) {
        const q = skipWs(text, at + key.length);
        if (text.charCodeAt(q) !== 34) {
          at = text.indexOf(key, q);
          continue;
        }
        const end = stringEnd(text, q);
        let value = text.slice(q + 1, end - 1);
        if (value.includes("\\")) {
          try {
            value = JSON.parse(text.slice(q, end)) as string;
          } catch {
            // a broken escape: count the raw text
          }
        }
        this.textChars += value.length;
        if (this.kept.length < KEEP_CHARS) this.kept += value.slice(0, KEEP_CHARS - this.kept.length);
        at = text.indexOf(key, end);
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
    const direct = usageFromObject(obj.usage);
    // Responses API: usage sits in the response object of response.completed & co.
    const nested = direct ?? usageFromObject((obj.response as Record<string, unknown> | undefined)?.usage);
    if (nested) this.usage = nested;
    return direct !== null && Array.isArray(obj.choices) && obj.choices.length === 0;
  }
}

/** The span to cut for a `"usage":null` member at `keyAt` whose value ends at `valueEnd`. */
function nullMemberSpan(text: string, keyAt: number, valueEnd: number): [number, number] {
  let b = keyAt - 1;
  while (b >= 0 && text.charCodeAt(b) <= 32) b--;
  if (text.charCodeAt(b) === 44 /* , */) return [b, valueEnd];
  // first member: take the comma (and spaces) after it instead
  let a = skipWs(text, valueEnd);
  if (text.charCodeAt(a) === 44) a = skipWs(text, a + 1);
  return [keyAt, a];
}
