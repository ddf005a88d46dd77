// The proxy path of one inference request: read and check the body, find the route,
// try its targets (retrying failures that happened before any byte reached the client),
// and hand the first successful answer to respond.ts.

import { asGatewayError, errorResponse, GatewayError, gatewayErrorBody } from "../errors.ts";
import { metrics } from "../metrics/metrics.ts";
import type { Connection } from "../edges/types.ts";
import { backendAnswered, backendFailed, backendInconclusive } from "../routing/outcomes.ts";
import type { Route, Target } from "../routing/route-table.ts";
import { TargetSelector } from "../routing/select.ts";
import { onAttemptStart } from "../routing/health.ts";
import type { Runtime } from "../runtime/runtime.ts";
import type { Services } from "../runtime/services.ts";
import type { Endpoint } from "./endpoints.ts";
import { admit, authenticateRequest } from "./admission.ts";
import { AttemptDeadlines } from "./deadlines.ts";
import { CLIENT_GONE, Exchange, type RequestInfo, SHUTDOWN_CUT } from "./exchange.ts";
import { upstreamRequestHeaders } from "./headers.ts";
import { parseInferenceBody, upstreamBodyText, type InferenceBody } from "./request-body.ts";
import { answer } from "./respond.ts";
import { probeConnect } from "./upstream-client.ts";
import { openAiErrorBody } from "./upstream-error.ts";
import { upstreamUrl, wireFor } from "./wire.ts";
import { anthropicBackendErrorBody, anthropicGatewayErrorBody } from "../providers/anthropic-errors.ts";
import { TranslationError, type EncodeContext, type Translation } from "../providers/types.ts";
import { geminiRetryDelaySeconds } from "../providers/gemini-response.ts";

/** Backend statuses worth another target: overload (529: Anthropic's), rate limit, server trouble. */
const RETRY_STATUSES = new Set([429, 500, 502, 503, 504, 529]);
/** Failures before the first byte that another target may not have. */
const RETRY_CODES = new Set(["upstream_connect_error", "upstream_connect_timeout", "upstream_first_byte_timeout", "upstream_error"]);
/** Error bodies of refusals are read up to this size. */
const MAX_ERROR_BODY = 64 * 1024;

/** Fetch error codes that mean no connection could be made (Bun's and Node's names). */
const CONNECT_CODES = new Set([
  "ECONNREFUSED",
  "ConnectionRefused",
  "FailedToOpenSocket",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "UnableToConnect",
  "DNSError",
]);

type AttemptResult =
  | { kind: "answer"; response: Response }
  | { kind: "refused"; status: number; body: string; headers: Headers; retryable: boolean }
  | { kind: "failed"; error: GatewayError; retryable: boolean };

export async function proxyInference(
  req: Request,
  conn: Connection,
  endpoint: Endpoint,
  rt: Runtime,
  services: Services,
  info: RequestInfo,
): Promise<Response> {
  const ex = new Exchange(info, endpoint.path, rt, services);
  req.signal.addEventListener("abort", () => ex.onClientGone(), { once: true });
  try {
    // Who is asking comes first: an unknown key is refused before its body is read, and a
    // bad body from a known key is on that key's record.
    const key = authenticateRequest(req, rt, services);
    if (key) ex.key = key;
    // Sized bodies (what SDKs send) are read in one go; chunked uploads are counted as
    // they come and cut at the limit.
    const max = rt.config.server.maxBodyBytes;
    const declared = req.headers.get("content-length");
    let text: string;
    if (declared !== null) {
      const bytes = Number(declared);
      if (bytes > max) throw tooLarge(`${mib(bytes)}`, max);
      text = await req.text();
      ex.bytesIn = bytes;
    } else {
      const read = await readChunked(req, max);
      text = read.text;
      ex.bytesIn = read.bytes;
    }
    conn.keepOpen();
    const body = parseInferenceBody(text, endpoint);
    ex.requestedModel = body.model;
    ex.stream = body.stream;
    ex.requestBody = body.json;
    const route = rt.routes.resolve(body.model);
    if (!route) {
      throw new GatewayError("model_not_found", `The model "${body.model}" does not exist on this gateway; GET /v1/models lists the models it serves.`, {
        param: "model",
      });
    }
    ex.route = route.name;
    const admitted = admit(key, route, body, ex.info.clientIp, rt, services);
    ex.admission = admitted.admission;
    ex.rateHeaders = admitted.headers;
    return await tryTargets(req, endpoint, route, body, ex, rt, services);
  } catch (err) {
    // A client that left mid-upload makes the body read fail: that is a 499, not ours.
    const ge = ex.clientGone || req.signal.aborted ? CLIENT_GONE : asGatewayError(err);
    if (ge.code === "internal_error") services.log.error("internal error", { request_id: info.requestId, error: String(err), stack: (err as Error)?.stack });
    const body = endpoint.protocol === "anthropic" ? anthropicGatewayErrorBody(ge) : gatewayErrorBody(ge);
    // The record's bytes_out is the body the client reads (none when it has left).
    if (ge !== CLIENT_GONE) ex.bytesOut = Buffer.byteLength(body);
    ex.finish(ge.status, ge.code);
    return errorResponse(ge, info.requestId, body);
  }
}

async function tryTargets(req: Request, endpoint: Endpoint, route: Route, body: InferenceBody, ex: Exchange, rt: Runtime, services: Services): Promise<Response> {
  const maxAttempts = 1 + rt.config.retries.attempts;
  const selector = new TargetSelector(route, () => performance.now(), Math.random, (t) => {
    const w = wireFor(endpoint, t.backend.config.provider);
    return w.kind === "unsuitable" ? w.why : null;
  });
  let last: AttemptResult | null = null;
  let tried = 0;
  while (tried < maxAttempts) {
    if (tried > 0) {
      // Pause before choosing: the choice (and the slot it takes) must reflect the state
      // after the pause, or requests retrying together all see the same free slot.
      await backoff(tried, rt.config.retries.backoffMs);
      if (ex.clientGone) throw CLIENT_GONE;
      if (ex.cutByShutdown) throw SHUTDOWN_CUT;
      const totalMs = rt.config.timeouts.totalMs;
      if (performance.now() - ex.info.t0 >= totalMs) {
        throw new GatewayError("upstream_total_timeout", `The request took longer than the total time allowed (${totalMs} ms).`);
      }
    }
    const target = selector.next();
    if (!target) break;
    if (tried > 0) {
      ex.retries++;
      metrics.retries.labels(route.name).inc();
    }
    tried++;
    last = await attempt(req, endpoint, target, body, ex, rt, services);
    if (last.kind === "answer") return last.response;
    if (!last.retryable || ex.interrupted) break;
  }
  if (ex.clientGone) throw CLIENT_GONE;
  if (ex.cutByShutdown) throw SHUTDOWN_CUT;
  if (!last) throw selector.skipped.size === 0 && selector.unsuitable.size > 0 ? unsupported(route, endpoint, selector) : noBackend(route, selector);
  if (last.kind === "failed") throw last.error;
  // The last target refused: its status and error go to the client, in OpenAI form.
  ex.bytesOut = Buffer.byteLength(last.body);
  ex.finish(last.status, `upstream_http_${last.status}`);
  return new Response(last.body, { status: last.status, headers: last.headers });
}

/** No target of the route (or its fallbacks) speaks a protocol this endpoint can be translated to. */
function unsupported(route: Route, endpoint: Endpoint, selector: TargetSelector): GatewayError {
  const why = [...selector.unsuitable].map(([name, reason]) => `${name}: ${reason}`).join("; ");
  return new GatewayError("endpoint_not_supported", `Model "${route.name}" cannot be used on ${endpoint.path}: ${why}.`, { param: "model" });
}

/** Nothing could be tried: every target is out (ejected, failing probes, rate limited) or full. */
function noBackend(route: Route, selector: TargetSelector): GatewayError {
  const why = [...selector.skipped].map(([name, reason]) => `${name}: ${reason.replace(/_/g, " ")}`).join("; ");
  const waitMs = selector.retryAt === Infinity ? 1000 : selector.retryAt - performance.now();
  const seconds = Math.max(1, Math.ceil(waitMs / 1000));
  return new GatewayError("no_backend_available", `No backend can take a request for model "${route.name}" right now (${why}); retry in ${seconds} s.`, {
    headers: { "retry-after": String(seconds) },
  });
}

function backoff(retry: number, baseMs: number): Promise<void> {
  if (baseMs <= 0) return Promise.resolve();
  // exponential with full jitter in [50%, 100%] so retries of many clients spread out
  const ms = baseMs * 2 ** (retry - 1) * (0.5 + Math.random() / 2);
  return new Promise((r) => setTimeout(r, ms));
}

async function attempt(req: Request, endpoint: Endpoint, target: Target, body: InferenceBody, ex: Exchange, rt: Runtime, services: Services): Promise<AttemptResult> {
  const backend = target.backend;
  const upstreamModel = target.model ?? body.model;
  const wire = wireFor(endpoint, backend.config.provider);
  let hideUsage = false;
  let upstreamText: string;
  let path = endpoint.path;
  let translation: { t: Translation; ctx: EncodeContext } | null = null;
  if (wire.kind === "translate") {
    const ctx: EncodeContext = {
      upstreamModel,
      clientModel: body.model,
      stream: body.stream,
      created: Math.floor(ex.info.startedAt / 1000),
      includeUsage: body.clientIncludeUsage,
    };
    try {
      const encoded = wire.translation.encodeRequest(body.json, ctx);
      upstreamText = JSON.stringify(encoded.body);
      path = encoded.path;
    } catch (err) {
      // what the client asked for has no equivalent in the backend's protocol (n > 1 for
      // Anthropic, a server tool for an OpenAI backend): the client's request, not ours
      if (!(err instanceof TranslationError)) throw err;
      const error = new GatewayError("invalid_request", `Backend ${backend.name} (provider ${backend.config.provider}) cannot take this request: ${err.message}`, {
        param: err.param ?? undefined,
      });
      return { kind: "failed", error, retryable: false };
    }
    translation = { t: wire.translation, ctx };
  } else {
    hideUsage = body.stream && endpoint.streamUsage === "on_request" && !body.clientIncludeUsage;
    upstreamText = upstreamBodyText(body, target.model, hideUsage);
  }
  const headers = upstreamRequestHeaders(req.headers, backend, ex.info);
  const url = upstreamUrl(backend, path, ex.info.query, upstreamModel, translation !== null);
  ex.backend = backend.name;
  ex.upstreamModel = upstreamModel;

  const ac = ex.beginAttempt(backend.state);
  const started = performance.now();
  onAttemptStart(backend.state, started);
  const timeouts = backend.config.timeouts;
  const deadlines = new AttemptDeadlines(ac, {
    timeouts,
    requestStart: ex.info.t0,
    // the backend's own total when it sets one, else the global one (normalized so)
    totalMs: timeouts.totalMs,
    backendName: backend.name,
    // Bun's fetch has no connect timeout: when nothing came back by the connect
    // deadline, try a plain TCP connection; if that fails too, the backend is unreachable.
    onConnectDeadline: backend.network
      ? (abort) => {
          void probeConnect(backend.baseUrl, timeouts.connectMs).then((r) => {
            if (r === "ok") return;
            const code = r === "timeout" ? "upstream_connect_timeout" : "upstream_connect_error";
            abort(new GatewayError(code, `Could not connect to backend ${backend.name} within ${timeouts.connectMs} ms.`));
          });
        }
      : null,
  });

  let res: Response;
  try {
    res = await backend.fetch(url, headers, upstreamText, ac.signal);
  } catch (err) {
    deadlines.stop();
    const error = fetchFailure(err, ac, backend.name);
    ex.releaseBackend();
    if (error === CLIENT_GONE || ex.interrupted) backendInconclusive(backend);
    else {
      metrics.upstreamErrors.labels(backend.name, error.code).inc();
      backendFailed(backend, error.code, services.log);
    }
    return { kind: "failed", error, retryable: RETRY_CODES.has(error.code) };
  }
  deadlines.headersArrived();
  const latencyMs = performance.now() - started;

  if (res.status >= 400) {
    metrics.upstreamErrors.labels(backend.name, `http_${res.status}`).inc();
    let text = "";
    try {
      deadlines.reading();
      text = await readErrorText(res);
    } catch (err) {
      backendAnswered(backend, res.status, res.headers.get("retry-after"), latencyMs, services.log);
      deadlines.stop();
      ex.releaseBackend();
      const error = fetchFailure(err, ac, backend.name);
      return { kind: "failed", error, retryable: RETRY_CODES.has(error.code) };
    }
    deadlines.stop();
    ex.releaseBackend();
    // Gemini says how long to wait in the body (RetryInfo), not in a Retry-After header
    const retryAfter = res.headers.get("retry-after") ?? (res.status === 429 && backend.config.provider === "gemini" ? geminiRetryAfter(text) : null);
    backendAnswered(backend, res.status, retryAfter, latencyMs, services.log);
    const out = new Headers(res.headers);
    if (retryAfter !== null) out.set("retry-after", retryAfter);
    for (const h of ["content-length", "content-encoding", "transfer-encoding", "connection", "keep-alive"]) out.delete(h);
    out.set("content-type", "application/json");
    out.set("x-request-id", ex.requestId);
    for (const h in ex.rateHeaders) out.set(h, ex.rateHeaders[h]!);
    const errorBody = translation
      ? translation.t.decodeError(res.status, text, backend.name)
      : endpoint.protocol === "anthropic"
        ? anthropicPassthroughError(res.status, text, backend.name)
        : openAiErrorBody(res.status, text, backend.name);
    return { kind: "refused", status: res.status, body: errorBody, headers: out, retryable: RETRY_STATUSES.has(res.status) };
  }
  backendAnswered(backend, res.status, null, latencyMs, services.log);
  try {
    return { kind: "answer", response: await answer(res, { ex, endpoint, backend, rt, ac, deadlines, hideUsage, translation, log: services.log }) };
  } catch (err) {
    // Only the whole-body read of a small JSON answer gets here, before any byte left.
    deadlines.stop();
    const error = fetchFailure(err, ac, backend.name);
    ex.releaseBackend();
    return { kind: "failed", error, retryable: false };
  }
}

function geminiRetryAfter(text: string): string | null {
  const s = geminiRetryDelaySeconds(text);
  return s === null ? null : String(Math.max(1, Math.ceil(s)));
}

/** An Anthropic backend's refusal for an Anthropic client: as sent when it is Anthropic's shape, else put in it. */
function anthropicPassthroughError(status: number, text: string, backendName: string): string {
  try {
    const o = JSON.parse(text) as { type?: unknown; error?: { type?: unknown; message?: unknown } };
    if (o.type === "error" && typeof o.error?.type === "string" && typeof o.error.message === "string") return text;
  } catch {
    // not JSON: put it in shape below
  }
  return anthropicBackendErrorBody(status, text, backendName);
}

function fetchFailure(err: unknown, ac: AbortController, backendName: string): GatewayError {
  if (ac.signal.aborted && ac.signal.reason instanceof GatewayError) return ac.signal.reason;
  if (err instanceof GatewayError) return err;
  const code = (err as { code?: unknown })?.code;
  const why = err instanceof Error ? err.message : String(err);
  if (typeof code === "string" && CONNECT_CODES.has(code)) {
    return new GatewayError("upstream_connect_error", `Could not connect to backend ${backendName}: ${why}`);
  }
  return new GatewayError("upstream_error", `Backend ${backendName} failed: ${why}`);
}

async function readErrorText(res: Response): Promise<string> {
  const reader = res.body?.getReader();
  if (!reader) return "";
  const parts: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const r = await reader.read();
    if (r.done) break;
    parts.push(r.value);
    size += r.value.byteLength;
    if (size >= MAX_ERROR_BODY) {
      reader.cancel().catch(() => {});
      break;
    }
  }
  return new TextDecoder().decode(Buffer.concat(parts)).slice(0, MAX_ERROR_BODY);
}

async function readChunked(req: Request, max: number): Promise<{ text: string; bytes: number }> {
  // chunked upload: count as it comes and stop at the limit
  const reader = req.body?.getReader();
  if (!reader) return { text: "", bytes: 0 };
  const parts: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const r = await reader.read();
    if (r.done) break;
    size += r.value.byteLength;
    if (size > max) {
      reader.cancel().catch(() => {});
      throw tooLarge(`more than ${mib(max)}`, max);
    }
    parts.push(r.value);
  }
  return { text: new TextDecoder().decode(Buffer.concat(parts)), bytes: size };
}

function mib(n: number): string {
  return `${Number((n / 1048576).toFixed(3))} MiB`;
}

function tooLarge(size: string, max: number): GatewayError {
  return new GatewayError("request_too_large", `The request body is ${size}; this gateway accepts at most ${mib(max)} (server.max_body).`);
}
