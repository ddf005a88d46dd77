// Turning a backend's successful answer into the client's, with the usage read on the
// side. Streams go through the SSE tap chunk by chunk; small JSON answers are read whole
// (a client cannot use half a JSON document, and one write is cheaper than a stream);
// large or unsized JSON answers are streamed and their usage read from the tail.

import { edges } from "../edges/edges.ts";
import { GatewayError } from "../errors.ts";
import type { AttemptDeadlines } from "./deadlines.ts";
import { metrics } from "../metrics/metrics.ts";
import type { Logger } from "../log/logger.ts";
import { backendFailed } from "../routing/outcomes.ts";
import type { Runtime } from "../runtime/runtime.ts";
import type { Backend } from "../runtime/backend.ts";
import type { Endpoint, EndpointKind } from "./endpoints.ts";
import { CLIENT_GONE, type Exchange } from "./exchange.ts";
import { clientResponseHeaders } from "./headers.ts";
import { SseUsageTap } from "./sse-usage-tap.ts";
import { watchFirstByte } from "./header-flush.ts";
import { usageFromJsonText } from "./usage-parse.ts";
import { completionText } from "./completion-text.ts";
import { anthropicErrorEvent, anthropicStreamErrorType } from "../providers/anthropic-errors.ts";
import type { EncodeContext, Translation } from "../providers/types.ts";
import { NULL_BODY_STATUSES } from "../server/null-body.ts";

/** JSON answers up to this size are read whole; larger ones are streamed. */
const BUFFER_LIMIT = 1 << 20;
/** Of a streamed JSON answer, this much of the end is kept to find its usage. */
const TAIL_KEEP = 64 * 1024;

const TEXT_KEYS: Record<EndpointKind, readonly string[]> = {
  chat: ["content", "reasoning_content", "reasoning", "arguments"],
  completions: ["text"],
  responses: ["delta"],
  embeddings: [],
  // Anthropic's text_delta, thinking_delta, input_json_delta
  messages: ["text", "thinking", "partial_json"],
};

export interface AnswerContext {
  ex: Exchange;
  endpoint: Endpoint;
  backend: Backend;
  rt: Runtime;
  ac: AbortController;
  deadlines: AttemptDeadlines;
  log: Logger;
  /** The gateway added stream_options.include_usage: hide what it brings. */
  hideUsage: boolean;
  /** The backend speaks another protocol: its answer is translated for the client. */
  translation: { t: Translation; ctx: EncodeContext } | null;
}

/** The reason a read failed: our own abort reason when we aborted, else a backend failure. */
function readFailure(err: unknown, ac: AbortController): GatewayError {
  if (ac.signal.aborted && ac.signal.reason instanceof GatewayError) return ac.signal.reason;
  if (err instanceof GatewayError) return err;
  return new GatewayError("upstream_error", `The backend failed while sending its answer: ${err instanceof Error ? err.message : String(err)}`);
}

/** The client's answer: a Response at once for streams, a promise for read-whole answers. */
export function answer(res: Response, ctx: AnswerContext): Response | Promise<Response> {
  const { ex, backend, rt } = ctx;
  const headers = clientResponseHeaders(res.headers, ex.requestId, backend, rt.config.server.backendHeader);
  for (const h in ex.rateHeaders) headers.set(h, ex.rateHeaders[h]!);
  ex.answered = true;
  ex.answerStatus = res.status;
  const type = res.headers.get("content-type") ?? "";
  // Only these statuses come without a body (both upstream clients), and the status is
  // looked at first: reading `body` would make the stream that a whole read never needs.
  if (NULL_BODY_STATUSES.has(res.status) && res.body === null) {
    ex.firstByte();
    ex.finish(res.status, null);
    return new Response(null, { status: res.status, headers });
  }
  if (ctx.translation) return translated(res, headers, type, ctx, ctx.translation);
  if (type.startsWith("text/event-stream")) return streamSse(res, headers, ctx);
  const len = Number(res.headers.get("content-length") ?? Number.NaN);
  if (len <= BUFFER_LIMIT) return bufferJson(res, headers, ctx);
  return streamJson(res, headers, ctx);
}

const decoder = new TextDecoder();

/**
 * A whole answer's body, under the reading deadlines. A failure other than the client
 * leaving counts against the backend (metrics, health) and is thrown as the gateway's error.
 */
async function readWhole<T>(read: () => Promise<T>, ctx: AnswerContext): Promise<T> {
  ctx.deadlines.reading();
  try {
    return await read();
  } catch (err) {
    const failure = readFailure(err, ctx.ac);
    if (failure !== CLIENT_GONE) {
      metrics.upstreamErrors.labels(ctx.backend.name, failure.code).inc();
      backendFailed(ctx.backend, failure.code, ctx.log);
    }
    throw failure;
  } finally {
    ctx.deadlines.stop();
  }
}

async function bufferJson(res: Response, headers: Headers, ctx: AnswerContext): Promise<Response> {
  const { ex } = ctx;
  const buf = await readWhole(() => res.arrayBuffer(), ctx);
  ex.firstByte();
  ex.bytesOut = buf.byteLength;
  const text = decoder.decode(buf);
  ex.usage = usageFromJsonText(text);
  if (!ex.usage) ex.generated = completionText(text);
  ex.finish(res.status, null);
  return edges.wholeResponse(buf, res.status, headers);
}

function streamJson(res: Response, headers: Headers, ctx: AnswerContext): Response {
  const chunks: Uint8Array[] = [];
  let kept = 0;
  const tap: BodyTap = {
    push(chunk) {
      chunks.push(chunk);
      kept += chunk.byteLength;
      while (chunks.length > 1 && kept - chunks[0]!.byteLength >= TAIL_KEEP) kept -= chunks.shift()!.byteLength;
      return chunk;
    },
    flush: () => null,
    end(ex) {
      const tail = decoder.decode(Buffer.concat(chunks));
      ex.usage = usageFromJsonText(tail);
      if (!ex.usage) ex.generated = completionText(tail);
    },
  };
  return pipe(res, headers, ctx, tap, false);
}

function streamSse(res: Response, headers: Headers, ctx: AnswerContext): Response {
  const sse = new SseUsageTap({ hideUsage: ctx.hideUsage, textKeys: TEXT_KEYS[ctx.endpoint.kind], anthropic: ctx.endpoint.protocol === "anthropic" });
  ctx.ex.generated = sse;
  const tap: BodyTap = {
    push: (chunk) => sse.push(chunk),
    flush: () => sse.flush(),
    end(ex) {
      ex.usage = sse.usage;
    },
    backendError: () => sse.backendError,
    errorEvent: (err) => sseErrorEvent(ctx.endpoint.kind, err),
  };
  return pipe(res, headers, ctx, tap, edges.serverHoldsHeaders);
}

/** A whole translated answer's generated text, as an estimate source. */
function plainText(text: string): { keptText(): string; coverage(): number } {
  const kept = text.slice(0, 16384);
  return { keptText: () => kept, coverage: () => (kept.length === 0 ? 1 : text.length / kept.length) };
}

/**
 * An answer in the backend's protocol, translated for the client: streams event by
 * event through the translator (nothing held back but an unfinished event), whole JSON
 * answers read, translated and sent in one piece.
 */
function translated(res: Response, headers: Headers, type: string, ctx: AnswerContext, tr: { t: Translation; ctx: EncodeContext }): Response | Promise<Response> {
  // the backend's framing headers describe its bytes, not ours
  headers.delete("content-encoding");
  if (type.startsWith("text/event-stream")) {
    headers.set("content-type", "text/event-stream; charset=utf-8");
    const st = tr.t.streamTranslator(tr.ctx);
    ctx.ex.generated = st;
    const tap: BodyTap = {
      push: (chunk) => st.push(chunk),
      flush: () => st.flush(),
      end(ex) {
        ex.usage = st.usage;
      },
      errorEvent: (err) => st.errorEvent({ code: err.code, message: err.message, type: err.type }),
      backendError: () => st.backendError,
    };
    return pipe(res, headers, ctx, tap, edges.serverHoldsHeaders);
  }
  headers.set("content-type", "application/json");
  return bufferTranslated(res, headers, ctx, tr);
}

async function bufferTranslated(res: Response, headers: Headers, ctx: AnswerContext, tr: { t: Translation; ctx: EncodeContext }): Promise<Response> {
  const { ex } = ctx;
  const text = await readWhole(() => res.text(), ctx);
  ex.firstByte();
  let decoded;
  try {
    decoded = tr.t.decodeResponse(text, tr.ctx);
  } catch (err) {
    // an answer the gateway cannot read is the backend's failure, like a broken stream
    const why = err instanceof Error ? err.message : String(err);
    metrics.upstreamErrors.labels(ctx.backend.name, "upstream_error").inc();
    backendFailed(ctx.backend, "upstream_error", ctx.log);
    throw new GatewayError("upstream_error", `Backend ${ctx.backend.name} sent an answer the gateway cannot translate: ${why}`);
  }
  ex.bytesOut = Buffer.byteLength(decoded.body);
  ex.usage = decoded.usage;
  if (!ex.usage) ex.generated = plainText(decoded.text);
  ex.finish(res.status, null);
  return edges.wholeResponse(decoded.body, res.status, headers);
}

interface BodyTap {
  /** Bytes to send for this chunk (may be empty). */
  push(chunk: Uint8Array): Uint8Array;
  /** Bytes left at the end, if any. */
  flush(): Uint8Array | null;
  /** Read the usage once the body ended (or broke off). */
  end(ex: Exchange): void;
  /** Bytes that tell the client the answer broke off (SSE error event). */
  errorEvent?(err: GatewayError): Uint8Array;
  /** The backend's code of an error event it sent in the stream, once seen; null before (and without one). */
  backendError?(): string | null;
}

/** The record's error code of a stream whose backend sent an error event in it. */
const STREAM_ERROR = "upstream_stream_error";

/**
 * The backend said in its stream that it failed (its code: `backendError`): the record's
 * error code from now on, whether the stream then ends or the client leaves (an SDK
 * raises the event and stops reading). The event went to the client (as sent, or
 * translated); it is counted and logged as the backend's failure, but not a circuit
 * step: an error event can be about this request alone.
 */
function noteStreamError(backendError: string, ctx: AnswerContext): void {
  ctx.ex.streamError = STREAM_ERROR;
  metrics.upstreamErrors.labels(ctx.backend.name, STREAM_ERROR).inc();
  ctx.log.warn("the backend reported an error in its stream", { request_id: ctx.ex.requestId, backend: ctx.backend.name, backend_error: backendError });
}

/**
 * Pass the backend's body to the client chunk by chunk through `tap`. The next read of
 * the backend starts only once the client took the last chunk, so a slow client slows
 * the reads instead of filling memory, and each chunk leaves as soon as it arrived.
 * `flushHeaders`: the server holds headers until the first byte (header-flush.ts).
 */
function pipe(res: Response, headers: Headers, ctx: AnswerContext, tap: BodyTap, flushHeaders: boolean): Response {
  const { ex, ac, deadlines } = ctx;
  const reader = res.body!.getReader();
  let ended = false;
  const end = (status: number, code: string | null) => {
    if (ended) return;
    ended = true;
    deadlines.stop();
    tap.end(ex);
    ex.finish(status, code);
  };
  const body = edges.streamBody({
    async pump(sink) {
      let firstByteSent = flushHeaders ? watchFirstByte(sink) : null;
      try {
        for (;;) {
          deadlines.reading();
          const r = await reader.read();
          deadlines.readDone();
          if (r.done) {
            const rest = tap.flush();
            if (rest && rest.byteLength) {
              ex.bytesOut += rest.byteLength;
              await sink.write(rest);
            }
            end(res.status, null);
            return;
          }
          const out = tap.push(r.value);
          if (ex.streamError === null && tap.backendError) {
            const code = tap.backendError();
            if (code !== null) noteStreamError(code, ctx);
          }
          if (out.byteLength) {
            if (firstByteSent) {
              firstByteSent();
              firstByteSent = null;
            }
            ex.firstByte();
            ex.bytesOut += out.byteLength;
            const w = sink.write(out);
            if (w) await w;
          }
        }
      } catch (err) {
        const failure = readFailure(err, ac);
        if (failure === CLIENT_GONE || ex.clientGone) {
          end(499, "client_closed_request");
          return;
        }
        // A shutdown cut is not the backend's failure: no error counted, no circuit step.
        if (!ex.cutByShutdown) {
          metrics.upstreamErrors.labels(ctx.backend.name, failure.code).inc();
          backendFailed(ctx.backend, failure.code, ctx.log);
        }
        reader.cancel().catch(() => {});
        // Mid-answer: the status line is gone already. Say what happened in the
        // stream's own terms (an SSE error event the SDKs raise), then end it cleanly.
        const ev = tap.errorEvent?.(failure);
        if (ev) ex.bytesOut += ev.byteLength;
        end(res.status, failure.code);
        if (!ev) throw failure;
        await sink.write(ev);
      } finally {
        firstByteSent?.();
      }
    },
    cancel() {
      // The client went away mid-answer: stop the backend generating at once.
      ex.onClientGone();
      ac.abort(CLIENT_GONE);
      reader.cancel().catch(() => {});
      end(499, "client_closed_request");
    },
  });
  return new Response(body, { status: res.status, headers });
}

const encoder = new TextEncoder();

function sseErrorEvent(kind: EndpointKind, err: GatewayError): Uint8Array {
  if (kind === "messages") return encoder.encode(anthropicErrorEvent(anthropicStreamErrorType(err), err.message, err.code));
  const error = { message: err.message, type: err.type, param: null, code: err.code };
  if (kind === "responses") {
    // The Responses API's own error event; `error` too, which the OpenAI SDKs raise on.
    return encoder.encode(`event: error\ndata: ${JSON.stringify({ type: "error", code: err.code, message: err.message, param: null, error })}\n\n`);
  }
  return encoder.encode(`data: ${JSON.stringify({ error })}\n\n`);
}
