// The gateway's HTTP surface as one Web-standard handler: Request -> Response. The
// endpoint table is a Map looked up by path; the runtime in force is read once per
// request and kept by that request to its end.

import { timingSafeEqual, createHash } from "node:crypto";
import { asGatewayError, errorResponse, GatewayError } from "../errors.ts";
import { renderMetrics } from "../metrics/metrics.ts";
import { ENDPOINTS } from "../proxy/endpoints.ts";
import { proxyInference } from "../proxy/forward.ts";
import { authenticateRequest } from "../proxy/admission.ts";
import { COUNT_TOKENS_PATH, countTokens } from "../proxy/count-tokens.ts";
import type { RuntimeHolder } from "../runtime/runtime.ts";
import type { Services } from "../runtime/services.ts";
import { redactConfig } from "../config/redact.ts";
import { keysApi } from "../admin/keys-api.ts";
import { usageApi, type UsageReporter } from "../admin/usage-api.ts";
import type { Connection, Handler } from "../edges/types.ts";
import { newRequestId } from "./request-id.ts";

export interface ReloadOutcome {
  result: "success" | "failure" | "unchanged";
  hash: string;
  /** Config problems, formatted as file:line:col: path: message. */
  errors: string[];
  /** Settings that changed but take effect only after a restart. */
  restartRequired: string[];
}

export interface AppDeps {
  holder: RuntimeHolder;
  services: Services;
  /** Set when shutdown began: new requests are turned away. */
  lifecycle: { draining: boolean };
  reload(): Promise<ReloadOutcome>;
  /** Usage reports for GET /admin/usage (the metering worker runs them). */
  usageReport: UsageReporter;
}

type Route = ((req: Request, conn: Connection, ctx: Ctx) => Response | Promise<Response>) & {
  /** The route answers its own errors and its promise never rejects (the proxy path). */
  selfHandled?: boolean;
};

interface Ctx {
  deps: AppDeps;
  requestId: string;
  t0: number;
  query: string;
}

const JSON_HEADERS = { "content-type": "application/json" };
const MODEL_PREFIX = "/v1/models/";
const KEYS_PREFIX = "/admin/keys/";

function json(body: unknown, status: number, requestId: string): Response {
  return new Response(JSON.stringify(body), { status, headers: { ...JSON_HEADERS, "x-request-id": requestId } });
}

export function createApp(deps: AppDeps): Handler {
  const routes = new Map<string, Map<string, Route>>();
  const add = (method: string, path: string, route: Route) => {
    let m = routes.get(path);
    if (!m) routes.set(path, (m = new Map()));
    m.set(method, route);
  };

  for (const endpoint of ENDPOINTS.values()) {
    const route: Route = (req, conn, ctx) =>
      proxyInference(req, conn, endpoint, deps.holder.current, deps.services, {
        requestId: ctx.requestId,
        t0: ctx.t0,
        startedAt: Date.now(),
        clientIp: conn.clientIp,
        traceparent: req.headers.get("traceparent"),
        query: ctx.query,
      });
    route.selfHandled = true;
    add("POST", endpoint.path, route);
  }
  const count: Route = (req, conn, ctx) => countTokens(req, deps.holder.current, deps.services, { requestId: ctx.requestId, clientIp: conn.clientIp });
  count.selfHandled = true;
  add("POST", COUNT_TOKENS_PATH, count);
  /** The route names the caller may use: all with auth: none, else its key's allowed ones (a missing or bad key is refused). */
  const visibleModels = (req: Request): string[] => {
    const rt = deps.holder.current;
    const key = authenticateRequest(req, rt, deps.services);
    const names = rt.routes.names();
    return key ? names.filter((n) => key.modelAllowed(n)) : names;
  };
  add("GET", "/v1/models", (req, _conn, ctx) => {
    const rt = deps.holder.current;
    const created = Math.floor(rt.loadedAt / 1000);
    const data = visibleModels(req).map((id) => ({ id, object: "model", created, owned_by: "llmproxy" }));
    return json({ object: "list", data }, 200, ctx.requestId);
  });
  add("GET", MODEL_PREFIX, (req, _conn, ctx) => {
    // GET /v1/models/{id}: OpenAI's model retrieval (ids may contain slashes)
    const { path } = splitUrl(req.url);
    let id: string;
    try {
      id = decodeURIComponent(path.slice(MODEL_PREFIX.length));
    } catch {
      id = path.slice(MODEL_PREFIX.length); // malformed %-encoding: no model has that name
    }
    const rt = deps.holder.current;
    if (!visibleModels(req).includes(id)) {
      throw new GatewayError("model_not_found", `The model "${id}" does not exist on this gateway; GET /v1/models lists the models it serves.`, { param: "model" });
    }
    return json({ id, object: "model", created: Math.floor(rt.loadedAt / 1000), owned_by: "llmproxy" }, 200, ctx.requestId);
  });
  add("GET", "/health", (_req, _conn, ctx) => json({ status: "ok" }, 200, ctx.requestId));
  // Ready: config loaded, not draining, and at least one backend can take requests.
  add("GET", "/ready", (_req, _conn, ctx) => {
    if (deps.lifecycle.draining) return json({ status: "draining" }, 503, ctx.requestId);
    const rt = deps.holder.current;
    const healthy = rt.healthyBackends();
    const body = { status: healthy.length > 0 ? "ready" : "no_healthy_backend", config: rt.hash, healthy_backends: healthy };
    return json(body, healthy.length > 0 ? 200 : 503, ctx.requestId);
  });
  add("POST", "/admin/reload", async (req, _conn, ctx) => {
    adminGuard(req, deps);
    const out = await deps.reload();
    if (out.result === "failure") {
      const err = new GatewayError("reload_failed", `The new config is invalid; the running config stays in force:\n${out.errors.join("\n")}`);
      return errorResponse(err, ctx.requestId);
    }
    return json({ result: out.result, config: out.hash, restart_required: out.restartRequired }, 200, ctx.requestId);
  });
  const keysRoute: Route = (req, _conn, ctx) => {
    adminGuard(req, deps);
    const keys = deps.services.keys;
    if (!keys) throw new GatewayError("not_found", "No key store is open.");
    return keysApi(req, splitUrl(req.url).path.slice(KEYS_PREFIX.length - 1), keys, ctx.requestId);
  };
  for (const m of ["GET", "POST", "PATCH", "DELETE"]) add(m, KEYS_PREFIX, keysRoute);
  for (const m of ["GET", "POST"]) add(m, "/admin/keys", keysRoute);
  add("GET", "/admin/usage", (req, _conn, ctx) => {
    adminGuard(req, deps);
    const keys = deps.services.keys;
    if (!keys) throw new GatewayError("not_found", "No key store is open.");
    return usageApi(req, keys, deps.usageReport, ctx.requestId);
  });
  add("GET", "/admin/config", (req, _conn, ctx) => {
    adminGuard(req, deps);
    const rt = deps.holder.current;
    return json({ hash: rt.hash, file: rt.file, config: redactConfig(rt.config) }, 200, ctx.requestId);
  });

  const fail = (err: unknown, requestId: string, path: string): Response => {
    const ge = asGatewayError(err);
    if (ge.code === "internal_error") deps.services.log.error("internal error", { request_id: requestId, path, error: String(err), stack: (err as Error)?.stack });
    return errorResponse(ge, requestId);
  };

  // Not an async function: the proxy path returns its own promise (it never rejects, it
  // answers its errors itself), so no extra promise layer is paid per request.
  return (req, conn) => {
    const t0 = performance.now();
    const requestId = newRequestId(req.headers.get("x-request-id"));
    const { path, query } = splitUrl(req.url);
    try {
      // During the drain, /health and /ready still answer (/ready says "draining", so a
      // load balancer stops sending); everything else is turned away.
      if (deps.lifecycle.draining && path !== "/health" && path !== "/ready") {
        const res = errorResponse(new GatewayError("shutting_down"), requestId);
        res.headers.set("connection", "close");
        return res;
      }
      const byMethod =
        routes.get(path) ??
        (path === metricsPath(deps)
          ? METRICS
          : path.startsWith(MODEL_PREFIX) && path.length > MODEL_PREFIX.length
            ? routes.get(MODEL_PREFIX)
            : path.startsWith(KEYS_PREFIX)
              ? routes.get(KEYS_PREFIX)
              : undefined);
      if (!byMethod) throw new GatewayError("not_found", `No endpoint ${req.method} ${path} on this gateway.`);
      const route = byMethod.get(req.method);
      if (!route) {
        const allowed = [...byMethod.keys()].join(", ");
        throw new GatewayError("method_not_allowed", `${req.method} is not allowed on ${path}; use ${allowed}.`, { headers: { allow: allowed } });
      }
      const out = route(req, conn, { deps, requestId, t0, query });
      return route.selfHandled || !(out instanceof Promise) ? out : out.catch((err: unknown) => fail(err, requestId, path));
    } catch (err) {
      return fail(err, requestId, path);
    }
  };
}

function metricsPath(deps: AppDeps): string | null {
  const m = deps.holder.current.config.metrics;
  return m.enabled ? m.path : null;
}

const METRICS = new Map<string, Route>([
  [
    "GET",
    async (_req, _conn, ctx) => {
      const { body, contentType } = await renderMetrics();
      return new Response(body, { headers: { "content-type": contentType, "x-request-id": ctx.requestId } });
    },
  ],
]);

function digest(s: string): Buffer {
  return createHash("sha256").update(s).digest();
}

/** Admin API gate: off without admin_token; the token compared in constant time. */
function adminGuard(req: Request, deps: AppDeps): void {
  const token = deps.holder.current.config.adminToken;
  if (!token) throw new GatewayError("admin_disabled");
  const auth = req.headers.get("authorization") ?? "";
  const given = auth.startsWith("Bearer ") ? auth.slice(7) : "";
  // Hashing first gives equal lengths, so the comparison time says nothing about the token.
  if (!timingSafeEqual(digest(given), digest(token))) throw new GatewayError("admin_unauthorized");
}

/** Path and query of a request URL, without the cost of new URL(). */
export function splitUrl(url: string): { path: string; query: string } {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  if (start < 0) return { path: "/", query: "" };
  const q = url.indexOf("?", start);
  return q < 0 ? { path: url.slice(start), query: "" } : { path: url.slice(start, q), query: url.slice(q) };
}
