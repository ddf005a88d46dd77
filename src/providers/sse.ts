// A Server-Sent-Events parser for translators: bytes in, one callback per complete event
// (its `event:` name and its `data:` lines joined), as soon as the event's blank line
// arrives. Any wire format that streams JSON in SSE (Anthropic Messages, OpenAI chat,
// Gemini with alt=sse) can be read with it.
//
// - Bytes are decoded with a streaming TextDecoder, so a UTF-8 character split across
//   network chunks is joined before anything looks at it.
// - Work is per line: a line is looked at once, when its newline arrives; only the
//   unfinished last line is carried to the next chunk, and the search for its end resumes
//   where the previous one stopped (a long line arriving in many chunks is not re-scanned).
// - Lines end with LF or CRLF. A lone CR, allowed by the SSE spec, is sent by no LLM API
//   and is not treated as a line end (it stays in the line).
// - Field rules follow the WHATWG spec: `data` lines join with "\n", one space after the
//   colon is dropped, comments (`:` lines), `id` and `retry` are ignored, an event without
//   data is not dispatched.

import { TranslationError } from "./types.ts";

/** An event larger than this is not a plausible stream event: the parser refuses it. */
export const MAX_EVENT_CHARS = 16 << 20;

/** Receives each complete event: the joined data and the `event:` name ("" when none). */
export type SseEventHandler = (data: string, event: string) => void;

export class SseParser {
  private readonly decoder = new TextDecoder();
  /** The unfinished last line (no LF in it). */
  private tail = "";
  /** Data lines of the event being read, joined; null before its first data line. */
  private data: string | null = null;
  private event = "";

  constructor(private readonly onEvent: SseEventHandler) {}

  /** Reads a chunk; calls the handler for each event completed by it. */
  push(chunk: Uint8Array): void {
    const text = this.decoder.decode(chunk, { stream: true });
    if (text === "") return;
    const from = this.tail.length; // the old tail holds no LF: search the new text only
    const buf = from === 0 ? text : this.tail + text;
    let start = 0;
    let nl = buf.indexOf("\n", from);
    while (nl >= 0) {
      const end = nl > start && buf.charCodeAt(nl - 1) === 13 /* \r */ ? nl - 1 : nl;
      this.line(buf, start, end);
      start = nl + 1;
      nl = buf.indexOf("\n", start);
    }
    this.tail = start === 0 ? buf : buf.slice(start);
    if (this.tail.length + (this.data?.length ?? 0) > MAX_EVENT_CHARS) {
      throw new TranslationError(`the backend sent a stream event longer than ${MAX_EVENT_CHARS} characters`);
    }
  }

  /**
   * At the end of the stream: an event whose blank line never came (the backend closed
   * right after its last data line) is dispatched too, so a consumer can still use it
   * when it is whole; a consumer must expect it to be cut short.
   */
  end(): void {
    const rest = this.tail + this.decoder.decode();
    this.tail = "";
    if (rest !== "") this.line(rest, 0, rest.charCodeAt(rest.length - 1) === 13 ? rest.length - 1 : rest.length);
    this.line("", 0, 0);
  }

  /** One line, buf[start, end), without its line ending. */
  private line(buf: string, start: number, end: number): void {
    if (start === end) {
      // blank line: dispatch
      if (this.data !== null) {
        const data = this.data;
        const event = this.event;
        this.data = null;
        this.event = "";
        this.onEvent(data, event);
      } else this.event = "";
      return;
    }
    const c = buf.charCodeAt(start);
    if (c === 58 /* : */) return; // comment (keep-alive)
    let colon = buf.indexOf(":", start);
    if (colon < 0 || colon > end) colon = end;
    let v = colon + 1;
    if (v < end && buf.charCodeAt(v) === 32) v++;
    const value = v >= end ? "" : buf.slice(v, end);
    const nameLen = colon - start;
    if (nameLen === 4 && c === 100 /* d */ && buf.startsWith("data", start)) {
      this.data = this.data === null ? value : this.data + "\n" + value;
    } else if (nameLen === 5 && c === 101 /* e */ && buf.startsWith("event", start)) {
      this.event = value;
    }
  }
}
