// Two translations in a row through OpenAI chat completions, the protocol every other
// one is written against: the client's protocol to OpenAI's (`outer`), then OpenAI's to
// the backend's (`inner`). The Anthropic front door in front of a Gemini backend is
// anthropicToOpenAi then openAiToGemini, so no third pair of translators has to be kept
// in step with the other two. Pure, like each half.
//
// What crosses the middle:
// - The request: the outer's OpenAI body is the inner's input; the inner makes the path.
// - Streams: the inner's OpenAI chunks are the outer's input, chunk by chunk (nothing
//   is held back beyond what each half holds). The inner always adds the usage chunk
//   (includeUsage), which the outer reads and turns into the client protocol's usage.
// - Usage and the generated text come from the inner half, the one that read the
//   backend's own numbers (cache reads, thinking tokens).
// - Errors: the backend's refusal becomes an OpenAI error body (inner), then the client
//   protocol's (outer); an error event mid-stream travels the same way.

import { TranslationError, type DecodedResponse, type EncodeContext, type EncodedRequest, type StreamTranslator, type TranslatedUsage, type Translation } from "./types.ts";

const EMPTY = new Uint8Array(0);

/** The inner half always streams the usage: the outer half needs it to report usage its own way. */
const innerContext = (ctx: EncodeContext): EncodeContext => ({ ...ctx, includeUsage: true });

class ChainedStream implements StreamTranslator {
  constructor(
    private readonly inner: StreamTranslator,
    private readonly outer: StreamTranslator,
  ) {}

  push(chunk: Uint8Array): Uint8Array {
    const mid = this.inner.push(chunk);
    return mid.byteLength === 0 ? EMPTY : this.outer.push(mid);
  }

  flush(): Uint8Array {
    const mid = this.inner.flush();
    // once per stream: a copy of the two ends costs nothing worth a branch
    return Buffer.concat([mid.byteLength === 0 ? EMPTY : this.outer.push(mid), this.outer.flush()]);
  }

  get usage(): TranslatedUsage | null {
    return this.inner.usage ?? this.outer.usage;
  }

  get backendError(): string | null {
    return this.inner.backendError ?? this.outer.backendError;
  }

  keptText(): string {
    return this.inner.keptText();
  }

  coverage(): number {
    return this.inner.coverage();
  }

  errorEvent(err: Parameters<StreamTranslator["errorEvent"]>[0]): Uint8Array {
    return this.outer.errorEvent(err);
  }
}

export function chain(outer: Translation, inner: Translation, backendKind: string): Translation {
  return {
    encodeRequest(body, ctx): EncodedRequest {
      const mid = outer.encodeRequest(body, ctx);
      try {
        return inner.encodeRequest(mid.body, innerContext(ctx));
      } catch (err) {
        // The inner half names fields of the OpenAI request made from the client's, which
        // the client never wrote: say so rather than point at a field it cannot find.
        if (err instanceof TranslationError) throw new TranslationError(`${err.message} (in the request as translated for a ${backendKind} backend)`);
        throw err;
      }
    },
    decodeResponse(text, ctx): DecodedResponse {
      const mid = inner.decodeResponse(text, innerContext(ctx));
      const out = outer.decodeResponse(mid.body, ctx);
      return { body: out.body, usage: mid.usage ?? out.usage, text: mid.text };
    },
    streamTranslator(ctx) {
      return new ChainedStream(inner.streamTranslator(innerContext(ctx)), outer.streamTranslator(ctx));
    },
    decodeError(status, text, backendName) {
      return outer.decodeError(status, inner.decodeError(status, text, backendName), backendName);
    },
  };
}
