// The proxy path of one inference request: read and check the body, find the route,
// try its targets (retrying failures that happened before any byte reached the client),
// and hand the first successful answer to respond.ts.

import { asGatewayError, errorResponse, GatewayError, gatewayErrorBody } from "../errors.ts";
import { metrics } from "../metrics/metrics.ts";
import type { Connection } from "../server/bun-server.ts";
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

/** Backend statuses worth another target: overload, rate limit, server trouble. */
const RETRY_STATUSES = new Set([429, 500, 502, 503, 504]);
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
    const body = gatewayErrorBody(ge);
    // The record's bytes_out is the body the client reads (none when it has left).
    if (ge !== CLIENT_GONE) ex.bytesOut = Buffer.byteLength(body);
    ex.finish(ge.status, ge.code);
    return errorResponse(ge, info.requestId, body);
  }
}

async function tryTargets(req: Request, endpoint: Endpoint, route: Route, body: InferenceBody, ex: Exchange, rt: Runtime, services: Services): Promise<Response> {
  const maxAttempts = 1 + rt.config.retries.attempts;
  const selector = new TargetSelector(route, performance.now);
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
  if (!last) throw noBackend(route, selector);
  if (last.kind === "failed") throw last.error;
  // The last target refused: its status and error go to the client, in OpenAI form.
  ex.bytesOut = Buffer.byteLength(last.body);
  ex.finish(last.status, `upstream_http_${last.status}`);
  return new Response(last.body, { status: last.status, headers: last.headers });
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
  const hideUsage = body.stream && endpoint.streamUsage === "on_request" && !body.clientIncludeUsage;
  const upstreamText = upstreamBodyText(body, target.model, hideUsage);
  const headers = upstreamRequestHeaders(req.headers, backend, ex.info);
  const url = backend.baseUrl + endpoint.path + ex.info.query;
  ex.backend = backend.name;
  ex.upstreamModel = target.model ?? body.model;

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
  backendAnswered(backend, res.status, res.headers.get("retry-after"), performance.now() - started, services.log);

  if (res.status >= 400) {
    metrics.upstreamErrors.labels(backend.name, `http_${res.status}`).inc();
    let text = "";
    try {
      deadlines.reading();
      text = await readErrorText(res);
    } catch (err) {
      deadlines.stop();
      ex.releaseBackend();
      const error = fetchFailure(err, ac, backend.name);
      return { kind: "failed", error, retryable: RETRY_CODES.has(error.code) };
    }
    deadlines.stop();
    ex.releaseBackend();
    const out = new Headers(res.headers);
    for (const h of ["content-length", "content-encoding", "transfer-encoding", "connection", "keep-alive"]) out.delete(h);
    out.set("content-type", "application/json");
    out.set("x-request-id", ex.requestId);
    for (const h in ex.rateHeaders) out.set(h, ex.rateHeaders[h]!);
    return { kind: "refused", status: res.status, body: openAiErrorBody(res.status, text, backend.name), headers: out, retryable: RETRY_STATUSES.has(res.status) };
  }
  try {
    return { kind: "answer", response: await answer(res, { ex, endpoint, backend, rt, ac, deadlines, hideUsage, log: services.log }) };
  } catch (err) {
    // Only the whole-body read of a small JSON answer gets here, before any byte left.
    deadlines.stop();
    const error = fetchFailure(err, ac, backend.name);
    ex.releaseBackend();
    return { kind: "failed", error, retryable: false };
  }
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
