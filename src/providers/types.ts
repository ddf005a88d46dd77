// The contract between the proxy engine and a wire-format translation: the client speaks
// one protocol (OpenAI chat completions, Anthropic Messages), the backend another. Every
// translation is pure (no I/O, no clock, no globals): the proxy calls it with bytes and
// parsed bodies and does the sending itself, so the same code serves every transport and
// is unit-tested from recorded examples.
//
// Streams are translated event by event as they arrive: a translator holds back only the
// unfinished tail of an event split across network chunks (an SSE client dispatches an
// event only at its blank line anyway), never a whole answer.

/** Token counts in the gateway's terms (OpenAI's): cached and cache-write tokens are parts of prompt. */
export interface TranslatedUsage {
  /** Every input token, cache reads and cache writes included. */
  promptTokens: number;
  completionTokens: number;
  /** Of promptTokens: read from the provider's prompt cache. */
  cachedTokens: number;
  /** Of promptTokens: written to the provider's prompt cache (Anthropic cache_creation_input_tokens), 0 when none. */
  cacheWriteTokens: number;
}

/** What the gateway knows of the request when it encodes it for a backend. */
export interface EncodeContext {
  /** The model name to send upstream (the route may rename the client's). */
  upstreamModel: string;
  /** The model name the client asked for: answers name it, as the provider itself would (not the upstream name). */
  clientModel: string;
  /** Whether the client asked for a stream. */
  stream: boolean;
  /** Unix seconds when the request arrived: the time an answer carries (OpenAI `created`), since translations read no clock. */
  created: number;
  /** The client asked for usage in its stream (OpenAI stream_options.include_usage): a translated stream adds the usage chunk only then. */
  includeUsage: boolean;
}

/** The upstream request: a path below the backend's base URL and a JSON body. */
export interface EncodedRequest {
  /** e.g. "/v1/messages"; for Gemini it depends on model and stream (":streamGenerateContent?alt=sse"). */
  path: string;
  body: Record<string, unknown>;
}

/** A backend's whole (non-stream) answer, translated. */
export interface DecodedResponse {
  /** The client-protocol JSON body to send. */
  body: string;
  /** null when the backend reported none (the gateway then estimates). */
  usage: TranslatedUsage | null;
  /** The generated text (content, tool arguments), for an estimate when usage is null. */
  text: string;
}

/** An error the gateway raises mid-stream (timeout, backend failure, shutdown), to tell the client in its own protocol. */
export interface StreamError {
  code: string;
  message: string;
  /** OpenAI error type (server_error, timeout_error, ...). */
  type: string;
}

/** Translates one streamed answer, event by event. One instance per answer. */
export interface StreamTranslator {
  /** Client-protocol bytes for the complete events in this chunk (may be empty; never holds a complete event back). */
  push(chunk: Uint8Array): Uint8Array;
  /** At the end of the upstream stream: what is left (an unfinished last event, closing events the client protocol needs). */
  flush(): Uint8Array;
  /** The usage once seen (updated as events pass); null when the backend sent none. */
  readonly usage: TranslatedUsage | null;
  /** The backend's code of the error event it sent in the stream (errorEventCode), else null. */
  readonly backendError: string | null;
  /** The generated text seen so far (bounded by the translator: keep at most 16 KiB), for an estimate. */
  keptText(): string;
  /** All generated text / kept text (>= 1), to scale an estimate. */
  coverage(): number;
  /** Bytes that end the stream with an error the client's SDK raises. */
  errorEvent(err: StreamError): Uint8Array;
}

/**
 * One direction of translation: requests from the client protocol to the backend's,
 * answers and errors back.
 */
export interface Translation {
  /** The client's parsed body (already checked: model present, the required field present) to the backend's request. */
  encodeRequest(body: Record<string, unknown>, ctx: EncodeContext): EncodedRequest;
  /** The backend's whole JSON answer (status 2xx) to the client's. Throws TranslationError when it cannot be read. */
  decodeResponse(text: string, ctx: EncodeContext): DecodedResponse;
  /** A translator for the backend's event stream. */
  streamTranslator(ctx: EncodeContext): StreamTranslator;
  /** A backend refusal (4xx/5xx body, any shape) as the client protocol's error body. */
  decodeError(status: number, text: string, backendName: string): string;
}

/** A request the target protocol cannot express (a 400 for the client), or an answer the gateway cannot read (a 502). */
export class TranslationError extends Error {
  constructor(
    message: string,
    /** The request field at fault, when the client's request was the problem. */
    readonly param: string | null = null,
  ) {
    super(message);
    this.name = "TranslationError";
  }
}
