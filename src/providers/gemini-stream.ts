// A Gemini stream (streamGenerateContent?alt=sse: one `data: {GenerateContentResponse}`
// event per step, lines ending in CRLF) as an OpenAI chat-completion chunk stream.
//
// Each Gemini event is translated as soon as its blank line arrives: the first one also
// opens the choice (role chunk), text parts become content deltas, a functionCall part
// (Gemini sends each call whole, in one event) becomes one tool_calls delta with the
// complete arguments, and the event with finishReason closes the choice. usageMetadata
// comes with every event, cumulative: the last one wins. The usage chunk (when the client
// asked include_usage) and [DONE] are written when the upstream stream ends, since Gemini
// has no closing event of its own. A mid-stream `{"error":{...}}` event becomes OpenAI's
// in-stream error event, and nothing after it is sent.

import { OpenAiChunkWriter, SSE_DONE, openAiErrorEvent } from "./openai-chunks.ts";
import { candidateParts, completionId, finishReason, geminiUsage, isObject, openAiErrorFromGemini, openAiUsage, type GeminiUsage } from "./gemini-response.ts";
import { SseParser } from "./sse.ts";
import { TranslationError, type EncodeContext, type StreamError, type StreamTranslator, type TranslatedUsage } from "./types.ts";
import { errorEventCode } from "./stream-error-code.ts";

/** Generated text kept for a token estimate when no usage arrives; longer answers are extrapolated. */
const KEEP_CHARS = 16384;
const EMPTY = new Uint8Array(0);
const encoder = new TextEncoder();

interface ChoiceState {
  /** Function calls sent so far (they are numbered across events). */
  calls: number;
  finished: boolean;
}

export class GeminiStreamTranslator implements StreamTranslator {
  private readonly parser = new SseParser((data) => this.onEvent(data));
  private writer: OpenAiChunkWriter | null = null;
  private readonly choices = new Map<number, ChoiceState>();
  private responseId = "";
  private out = "";
  /** An error event went out: the stream is over for the client. */
  private over = false;
  backendError: string | null = null;
  private gemini: GeminiUsage | null = null;
  private kept = "";
  private textChars = 0;

  constructor(private readonly ctx: EncodeContext) {}

  get usage(): TranslatedUsage | null {
    return this.gemini?.usage ?? null;
  }

  push(chunk: Uint8Array): Uint8Array {
    this.parser.push(chunk);
    return this.take();
  }

  flush(): Uint8Array {
    this.parser.end();
    if (!this.over && this.writer !== null) {
      if (this.ctx.includeUsage && this.gemini !== null) this.out += this.writer.usage(JSON.stringify(openAiUsage(this.gemini)));
      this.out += SSE_DONE;
      this.over = true;
    }
    return this.take();
  }

  keptText(): string {
    return this.kept;
  }

  coverage(): number {
    return this.kept.length === 0 ? 1 : this.textChars / this.kept.length;
  }

  errorEvent(err: StreamError): Uint8Array {
    this.over = true;
    return openAiErrorEvent(err.code, err.message, err.type);
  }

  private take(): Uint8Array {
    if (this.out === "") return EMPTY;
    const bytes = encoder.encode(this.out);
    this.out = "";
    return bytes;
  }

  private keep(text: string): void {
    this.textChars += text.length;
    // whole pieces only, like the OpenAI tap: a cut piece would skew the estimate's ratio
    if (this.kept.length + text.length <= KEEP_CHARS) this.kept += text;
  }

  private onEvent(data: string): void {
    if (this.over) return;
    let ev: unknown;
    try {
      ev = JSON.parse(data);
    } catch {
      throw new TranslationError("the Gemini backend sent a stream event that is not JSON");
    }
    if (!isObject(ev)) throw new TranslationError("the Gemini backend sent a stream event that is not a JSON object");
    if (isObject(ev.error)) {
      const e = ev.error;
      this.backendError ??= errorEventCode(ev);
      const body = openAiErrorFromGemini(e, typeof e.code === "number" ? e.code : 500);
      this.out += `data: ${body}\n\n`;
      this.over = true;
      return;
    }
    const writer = this.open(ev);
    const usage = geminiUsage(ev.usageMetadata);
    if (usage !== null) this.gemini = usage;
    const candidates = Array.isArray(ev.candidates) ? ev.candidates : [];
    if (candidates.length === 0) {
      // No candidate at all: the prompt itself was blocked (promptFeedback.blockReason).
      if (isObject(ev.promptFeedback) && typeof ev.promptFeedback.blockReason === "string") {
        const state = this.choice(0, writer);
        if (!state.finished) {
          state.finished = true;
          this.out += writer.finish(0, "content_filter");
        }
      }
      return;
    }
    for (let p = 0; p < candidates.length; p++) {
      const c: unknown = candidates[p];
      if (!isObject(c)) continue;
      const index = typeof c.index === "number" ? c.index : p;
      const state = this.choice(index, writer);
      if (state.finished) continue;
      const parts = candidateParts(c.content, { responseId: this.responseId, choice: index, firstCall: state.calls });
      if (parts.reasoning !== "") this.out += writer.reasoning(index, parts.reasoning);
      if (parts.text !== "") {
        this.out += writer.content(index, parts.text);
        this.keep(parts.text);
      }
      for (const call of parts.calls) {
        this.out += writer.toolCall(index, state.calls++, call.id, call.name, call.arguments);
        this.keep(call.arguments);
      }
      if (typeof c.finishReason === "string") {
        state.finished = true;
        this.out += writer.finish(index, finishReason(c.finishReason, state.calls > 0));
      }
    }
  }

  /** The chunk writer, made from the first event (which names the response). */
  private open(ev: Record<string, unknown>): OpenAiChunkWriter {
    if (this.writer !== null) return this.writer;
    this.responseId = typeof ev.responseId === "string" ? ev.responseId : "";
    this.writer = new OpenAiChunkWriter(completionId(this.responseId), this.ctx.created, this.ctx.clientModel, this.ctx.includeUsage);
    return this.writer;
  }

  /** A choice's state; its first mention sends the role chunk. */
  private choice(index: number, writer: OpenAiChunkWriter): ChoiceState {
    let state = this.choices.get(index);
    if (state === undefined) {
      state = { calls: 0, finished: false };
      this.choices.set(index, state);
      this.out += writer.role(index);
    }
    return state;
  }
}
