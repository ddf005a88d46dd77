// POST /v1/messages/count_tokens, Anthropic's token counter (Claude Code asks it how
// full its context is). The route's first backend that has a counter of its own counts
// exactly, with its own tokenizer: an Anthropic backend gets the request as it is, a
// Gemini one its countTokens (the request translated as for generateContent). A route
// without one gets the gateway's estimate (the cl100k tokenizer the metering uses when a
// backend reports nothing), rather than an error that would break the client. Counting
// is not inference: no usage record, no quota debit, no rate-limit slot; the key must
// still be valid and allowed the model.

import { GatewayError } from "../errors.ts";
import { estimatePromptTokens } from "../metering/estimate.ts";
import { anthropicGatewayErrorBody } from "../providers/anthropic-errors.ts";
import { anthropicToGemini, geminiCountAnswer, geminiCountRequest } from "../providers/anthropic-to-gemini.ts";
import { TranslationError } from "../providers/types.ts";
import type { Route, Target } from "../routing/route-table.ts";
import type { Runtime } from "../runtime/runtime.ts";
import type { Services } from "../runtime/services.ts";
import { authenticateRequest } from "./admission.ts";
import { upstreamRequestHeaders } from "./headers.ts";
import { upstreamUrl } from "./wire.ts";

export const COUNT_TOKENS_PATH = "/v1/messages/count_tokens";

export interface CountInfo {
  requestId: string;
  clientIp: string;
}

function answer(status: number, body: string, requestId: string, extra?: Headers): Response {
  const headers = new Headers(extra);
  headers.set("content-type", "application/json");
  headers.set("x-request-id", requestId);
  return new Response(body, { status, headers });
}

/** The first target, in the route's order and then its fallbacks', that counts exactly. */
function countingTarget(route: Route, seen = new Set<Route>()): Target | null {
  if (seen.has(route)) return null;
  seen.add(route);
  for (const t of route.targets) {
    const p = t.backend.config.provider;
    if (p === "anthropic" || p === "mock" || p === "gemini") return t;
  }
  for (const f of route.fallback) {
    const t = countingTarget(f, seen);
    if (t) return t;
  }
  return null;
}

/** A count asked of one backend: what to send, and how its answer reads as count_tokens'. */
interface UpstreamCount {
  path: string;
  body: string;
  /** The backend's answer (status, body) as the client's. */
  reply(status: number, text: string): [number, string];
}

/** The client's request as it is for Anthropic's counter, translated for Gemini's. */
function upstreamCount(body: Record<string, unknown>, target: Target, model: string, upstreamModel: string): UpstreamCount {
  const backend = target.backend;
  // an Anthropic backend's answer, errors included, is already in Anthropic's shape
  if (backend.config.provider !== "gemini") return { path: COUNT_TOKENS_PATH, body: JSON.stringify({ ...body, model: upstreamModel }), reply: (status, text) => [status, text] };
  let r: ReturnType<typeof geminiCountRequest>;
  try {
    r = geminiCountRequest(body, { upstreamModel, clientModel: model, stream: false, created: 0, includeUsage: false });
  } catch (err) {
    if (err instanceof TranslationError) throw new GatewayError("invalid_request", `Backend ${backend.name} (provider gemini) cannot count this request: ${err.message}`, { param: err.param ?? undefined });
    throw err;
  }
  return {
    path: r.path,
    body: JSON.stringify(r.body),
    reply(status, text) {
      if (status < 200 || status >= 300) return [status, anthropicToGemini.decodeError(status, text, backend.name)];
      try {
        return [200, geminiCountAnswer(text)];
      } catch (err) {
        throw new GatewayError("upstream_error", `Backend ${backend.name} answered the count unreadably: ${err instanceof Error ? err.message : String(err)}`);
      }
    },
  };
}

export async function countTokens(req: Request, rt: Runtime, services: Services, info: CountInfo): Promise<Response> {
  try {
    const key = authenticateRequest(req, rt, services);
    let body: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(await req.text());
      if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error("not an object");
      body = parsed as Record<string, unknown>;
    } catch (err) {
      throw new GatewayError("invalid_json", `The request body is not a JSON object: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (typeof body.model !== "string" || body.model === "") throw new GatewayError("missing_model", undefined, { param: "model" });
    if (!Array.isArray(body.messages)) throw new GatewayError("invalid_request", '"messages" must be an array of messages.', { param: "messages" });
    const model = body.model;
    const route = rt.routes.resolve(model);
    if (!route) throw new GatewayError("model_not_found", `The model "${model}" does not exist on this gateway; GET /v1/models lists the models it serves.`, { param: "model" });
    if (key && !key.modelAllowed(model)) throw new GatewayError("model_not_allowed", `This API key may not use the model "${model}".`, { param: "model" });

    const target = countingTarget(route);
    if (!target) {
      const n = await estimatePromptTokens(body);
      return answer(200, JSON.stringify({ input_tokens: n }), info.requestId);
    }
    const backend = target.backend;
    const upstreamModel = target.model ?? model;
    const request = upstreamCount(body, target, model, upstreamModel);
    const headers = upstreamRequestHeaders(req.headers, backend, info);
    const url = upstreamUrl(backend, request.path, "", upstreamModel, false);
    let res: Response;
    let text: string;
    try {
      res = await backend.fetch(url, headers, request.body, AbortSignal.timeout(backend.config.timeouts.firstByteMs));
      text = await res.text();
    } catch (err) {
      throw new GatewayError("upstream_error", `Backend ${backend.name} could not count the tokens: ${err instanceof Error ? err.message : String(err)}`);
    }
    const [status, reply] = request.reply(res.status, text);
    return answer(status, reply, info.requestId);
  } catch (err) {
    const ge = err instanceof GatewayError ? err : new GatewayError("internal_error", undefined, { cause: err });
    if (ge.code === "internal_error") services.log.error("internal error", { request_id: info.requestId, error: String(err) });
    const extra = new Headers(ge.headers);
    return answer(ge.status, anthropicGatewayErrorBody(ge), info.requestId, extra);
  }
}
