// The fake backend as a Web-standard handler: Request in, Response out, no socket, so
// the proxy can call it in-process (the demo's `mock` provider) and server.ts can put
// it behind Bun.serve. It routes by path, applies the x-mock-* headers (timing and
// faults), and reports one MockRequestEnd per request for tests to await.

import { createHash } from "node:crypto";
import { gzipSync } from "node:zlib";
import { anthropicCountTokens, anthropicMessages } from "./anthropic-messages.ts";
import { isObject, type Generation, type JsonObject, type MockEndpoint } from "./endpoint.ts";
import { overloadedStatus } from "./error-bodies.ts";
import { cutShortStream, delay, eventStream, untilAborted } from "./event-stream.ts";
import { Exchange, nextMatching, notify, type BackendState, type MockRequestEnd, type MockRequestStart, type MockStats } from "./exchange.ts";
import { geminiCountTokens, geminiGenerate, geminiRoute, type GeminiMethod } from "./gemini-generate.ts";
import { openaiChat } from "./openai-chat.ts";
import { openaiCompletions } from "./openai-completions.ts";
import { openaiEmbeddings } from "./openai-embeddings.ts";
import { openaiResponses } from "./openai-responses.ts";
import { MockOptionError, NO_FEATURES, planFeatures, planRequest, resolveMockOptions, type AnswerFeatures, type MockOptions, type RequestPlan } from "./options.ts";
import { countPromptTokens } from "./text.ts";

export type { MockRequestEnd, MockRequestStart, MockStats } from "./exchange.ts";

export interface MockBackend {
  /** Web-standard handler; honours req.signal (abort = stop generating at once). */
  fetch(req: Request): Promise<Response>;
  readonly stats: Readonly<MockStats>;
  /** Called once per request, when it finished or was aborted; returns unsubscribe. */
  onRequestEnd(listener: (e: MockRequestEnd) => void): () => void;
  /** The next request end matching predicate; call it before making the request. */
  nextEnd(predicate?: (e: MockRequestEnd) => boolean): Promise<MockRequestEnd>;
  /** Called when a request arrives (before its body is read); returns unsubscribe. */
  onRequestStart(listener: (s: MockRequestStart) => void): () => void;
  /** The next request to arrive matching predicate (e.g. to abort a hung one once it is in); call it before making the request. */
  nextStart(predicate?: (s: MockRequestStart) => boolean): Promise<MockRequestStart>;
}

export interface MockBackendAdapterOptions {
  /**
   * Error dropped streams with no reason. Bun.serve logs the reason of a body stream
   * that errors but stays silent for undefined; in-process callers want a real Error.
   */
  silentDrops?: boolean;
  /** Clock for `created` fields, ms since the epoch (tests pin it for byte-exact answers). */
  now?: () => number;
  /** Fixed id tag instead of a random one (tests compare whole answers). */
  idTag?: string;
}

const ROUTES = new Map<string, MockEndpoint>([
  ["/chat/completions", openaiChat],
  ["/completions", openaiCompletions],
  ["/embeddings", openaiEmbeddings],
  ["/responses", openaiResponses],
  ["/messages", anthropicMessages],
  ["/messages/count_tokens", anthropicCountTokens],
]);

// Gemini names the model in the path and the method after a colon: /v1beta/models/{model}:{method}.
const GEMINI_METHODS: Readonly<Record<GeminiMethod, MockEndpoint>> = {
  generateContent: geminiGenerate,
  streamGenerateContent: geminiGenerate,
  countTokens: geminiCountTokens,
};

const JSON_HEADERS = { "content-type": "application/json" } as const;
const SSE_HEADERS = { "content-type": "text/event-stream", "cache-control": "no-cache" } as const;
const HEALTH_BODY = `{"status":"ok"}`;
const DEFAULT_MODEL = "mock-1";

/** Path of a request URL without parsing it whole (this runs on every request). */
function pathOf(url: string): string {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  if (start < 0) return "/";
  const q = url.indexOf("?", start);
  return q < 0 ? url.slice(start) : url.slice(start, q);
}

function withEcho(headers: Readonly<Record<string, string>>, echo: Record<string, string> | null): Record<string, string> {
  return echo === null ? headers : { ...headers, ...echo };
}

function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

async function answer(state: BackendState, req: Request, x: Exchange): Promise<Response> {
  const route = x.path.startsWith("/v1/") ? x.path.slice(3) : x.path;
  x.id = `req_${state.tag}${(++state.seq).toString(36)}`;
  if (route === "/models") {
    if (req.method !== "GET") return x.fail("openai", 405, `Method ${req.method} not allowed on ${x.path}; use GET.`);
    x.status = 200;
    x.end(false);
    return new Response(state.modelsBody, { headers: JSON_HEADERS });
  }
  let endpoint = ROUTES.get(route);
  const gemini = endpoint === undefined ? geminiRoute(x.path) : null;
  if (gemini !== null) endpoint = GEMINI_METHODS[gemini.method];
  if (endpoint === undefined) return x.fail(x.path.startsWith("/v1beta/") ? "gemini" : "openai", 404, `Invalid URL (${req.method} ${x.path})`);
  if (req.method !== "POST") return x.fail(endpoint.provider, 405, `Method ${req.method} not allowed on ${x.path}; use POST.`);

  let plan: RequestPlan | null = null;
  let features: AnswerFeatures = NO_FEATURES;
  let planError = "";
  try {
    // Features first: a bad one must leave plan null, which is what answers the 400.
    features = planFeatures(req.headers);
    plan = planRequest(req.headers, state.opts);
  } catch (err) {
    if (!(err instanceof MockOptionError)) throw err;
    planError = err.message;
  }
  // The raw bytes only when their hash is wanted; text otherwise (the common case).
  const raw = plan?.echo ? new Uint8Array(await req.arrayBuffer()) : null;
  x.body = raw ? new TextDecoder().decode(raw) : await req.text();
  let body: JsonObject | null = null;
  try {
    const parsed: unknown = JSON.parse(x.body);
    if (isObject(parsed)) body = parsed;
  } catch {
    // answered below, after the x-mock-* faults that do not need a body
  }
  // Gemini: the method says whether to stream and the path names the model; the body says neither.
  x.stream = gemini !== null ? gemini.method === "streamGenerateContent" : body?.stream === true;
  x.model = gemini !== null ? gemini.model : typeof body?.model === "string" ? body.model : "";
  const suffix = `${state.tag}${state.seq.toString(36)}`;
  x.id = endpoint.idPrefix + suffix;

  if (plan === null) return x.fail(endpoint.provider, 400, planError);
  if (plan.status !== null) {
    return x.fail(endpoint.provider, plan.status, "mock error", plan.retryAfter === null ? undefined : { "retry-after": plan.retryAfter });
  }
  if (body === null) return x.fail(endpoint.provider, 400, "We could not parse the JSON body of your request: it must be a JSON object.");
  if (x.stream && gemini !== null && new URL(req.url).searchParams.get("alt") !== "sse") {
    return x.fail("gemini", 400, "The mock streams Gemini answers as server-sent events only: call streamGenerateContent with ?alt=sse (the JSON-array form is not implemented).");
  }
  const invalid = endpoint.validate(body);
  if (invalid !== null) return x.fail(endpoint.provider, 400, invalid);

  x.promptTokens = countPromptTokens(endpoint.kind, body);
  const wanted = endpoint.generates ? plan.tokens : 0;
  const max = endpoint.maxTokens(body);
  const tokens = max !== undefined && max < wanted ? max : wanted;
  const g: Generation = {
    id: x.id,
    suffix,
    created: Math.floor(state.now() / 1000),
    modelJson: JSON.stringify(x.model === "" ? DEFAULT_MODEL : x.model),
    body,
    tokens,
    cut: tokens < wanted,
    usage: plan.usage,
    promptTokens: x.promptTokens,
    features,
  };
  const echo = raw ? { "x-mock-request-body-sha256": sha256Hex(raw) } : null;

  if (plan.hang === "headers") {
    await untilAborted(req.signal);
    return x.abandon();
  }
  if (x.stream && endpoint.stream) {
    const timing = {
      delayMs: plan.delayMs,
      firstTokenDelayMs: plan.firstTokenDelayMs,
      stallAfter: plan.hang === "body" ? 0 : plan.hangAfter,
      dropAfter: plan.dropAfter,
      errorAfter: features.errorAfter,
    };
    x.status = 200;
    return new Response(eventStream(endpoint.stream(g), timing, x), { headers: withEcho(SSE_HEADERS, echo) });
  }
  x.stream = false;
  return whole(endpoint, g, plan, x, echo);
}

/** A non-stream answer: wait as long as generating it would take, then send it. */
async function whole(endpoint: MockEndpoint, g: Generation, plan: RequestPlan, x: Exchange, echo: Record<string, string> | null): Promise<Response> {
  const errorAt = endpoint.generates ? g.features.errorAfter : null;
  const made = errorAt === null ? g.tokens : Math.min(errorAt, g.tokens);
  const generation = endpoint.generates ? plan.firstTokenDelayMs + plan.delayMs * Math.max(0, made - 1) : 0;
  if (!(await delay(generation, x.signal))) return x.abandon();
  // x-mock-error-after on a whole answer: the failure a stream reports in-band is, before
  // any byte went out, the provider's overload status.
  if (errorAt !== null) return x.fail(endpoint.provider, overloadedStatus(endpoint.provider), "The model is overloaded. Please try again later.");
  const result = endpoint.complete(g);
  x.status = 200;
  if (plan.hang === "body" || plan.hangAfter !== null || plan.dropAfter !== null) {
    // A whole answer has no token events to count: half of the JSON, then the fault.
    const half = result.body.slice(0, Math.ceil(result.body.length / 2));
    const mode = plan.hang === null && plan.hangAfter === null ? "drop" : "stall";
    return new Response(cutShortStream([half], mode, x), { headers: withEcho(JSON_HEADERS, echo) });
  }
  x.wholeSent(result.tokens);
  x.end(false);
  if (plan.gzip) {
    const gz = gzipSync(result.body);
    return new Response(gz, { headers: { ...withEcho(JSON_HEADERS, echo), "content-encoding": "gzip", "content-length": String(gz.length) } });
  }
  return new Response(result.body, { headers: withEcho(JSON_HEADERS, echo) });
}

export function createMockBackend(opts: MockOptions, adapter: MockBackendAdapterOptions = {}): MockBackend {
  const now = adapter.now ?? Date.now;
  const created = Math.floor(now() / 1000);
  const state: BackendState = {
    opts: resolveMockOptions(opts),
    stats: { requests: 0, active: 0, completed: 0, aborted: 0, tokensSent: 0 },
    listeners: new Set(),
    startListeners: new Set(),
    now,
    dropReason: adapter.silentDrops ? undefined : new Error("mock backend dropped the connection (x-mock-drop-after)"),
    tag: adapter.idTag ?? Math.random().toString(36).slice(2, 8),
    seq: 0,
    modelsBody: JSON.stringify({ object: "list", data: [{ id: DEFAULT_MODEL, object: "model", created, owned_by: "llmproxy-mock" }] }),
  };

  async function fetch(req: Request): Promise<Response> {
    const path = pathOf(req.url);
    // Probes and the stats page are not traffic: they are not counted or reported. The
    // model list is what the gateway's health probes GET by default.
    if (path === "/health") return new Response(HEALTH_BODY, { headers: JSON_HEADERS });
    if (path === "/mock/stats") return new Response(JSON.stringify(state.stats), { headers: JSON_HEADERS });
    if (req.method === "GET" && (path === "/v1/models" || path === "/models")) return new Response(state.modelsBody, { headers: JSON_HEADERS });
    state.stats.requests++;
    state.stats.active++;
    if (state.startListeners.size > 0) notify(state.startListeners, { path, headers: req.headers });
    const x = new Exchange(state, req, path);
    try {
      return await answer(state, req, x);
    } catch (err) {
      // Reading the body fails when the client leaves mid-upload.
      if (req.signal.aborted) return x.abandon();
      return x.fail("openai", 500, `mock backend failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  function onRequestEnd(listener: (e: MockRequestEnd) => void): () => void {
    state.listeners.add(listener);
    return () => {
      state.listeners.delete(listener);
    };
  }

  function onRequestStart(listener: (s: MockRequestStart) => void): () => void {
    state.startListeners.add(listener);
    return () => {
      state.startListeners.delete(listener);
    };
  }

  return {
    fetch,
    stats: state.stats,
    onRequestEnd,
    nextEnd: (predicate) => nextMatching(onRequestEnd, predicate),
    onRequestStart,
    nextStart: (predicate) => nextMatching(onRequestStart, predicate),
  };
}
