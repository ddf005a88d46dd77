// Who may send this request, and may it go now: authentication (auth: keys), the key's
// model/address/quota checks, and the rate limits of every scope. Runs before anything
// is forwarded; all of it in memory.

import { authenticate, authorize } from "../auth/authenticate.ts";
import type { IndexedKey } from "../auth/key-index.ts";
import type { LimitSettings } from "../config/types.ts";
import { GatewayError } from "../errors.ts";
import { metrics } from "../metrics/metrics.ts";
import { rateLimitHeaders, retryAfterHeaders } from "../limits/headers.ts";
import type { Admission, LimitSpec } from "../limits/types.ts";
import type { Route } from "../routing/route-table.ts";
import type { Runtime } from "../runtime/runtime.ts";
import type { Services } from "../runtime/services.ts";
import type { InferenceBody } from "./request-body.ts";

function anyLimit(l: LimitSettings): boolean {
  return l.rpm !== null || l.tpm !== null || l.concurrency !== null;
}

/** A key's own limits where it has them, the config's per_key defaults elsewhere. */
function keyLimits(key: IndexedKey, defaults: LimitSettings): LimitSpec | null {
  const own = key.record.limits;
  const spec = { rpm: own.rpm ?? defaults.rpm, tpm: own.tpm ?? defaults.tpm, concurrency: own.concurrency ?? defaults.concurrency };
  return anyLimit(spec) ? spec : null;
}

/**
 * Tokens a request reserves against tokens-per-minute limits before it runs: its prompt
 * at ~4 characters a token plus the completion it may ask for (max_tokens). Settled with
 * the real count when it ends.
 */
export function admissionEstimate(body: InferenceBody): number {
  const j = body.json;
  const max = j.max_tokens ?? j.max_completion_tokens ?? j.max_output_tokens;
  return Math.ceil(body.text.length / 4) + (typeof max === "number" && max > 0 ? Math.floor(max) : 0);
}

/** The key of the request (null with auth: none); throws the 401 when there is none. */
export function authenticateRequest(req: Request, rt: Runtime, services: Services): IndexedKey | null {
  if (rt.config.auth !== "keys") return null;
  if (!services.keys) throw new GatewayError("internal_error", "auth: keys, but no key store is open.");
  return authenticate(req.headers, services.keys.index, Date.now());
}

export interface Admitted {
  admission: Admission | null;
  /** x-ratelimit-* headers for the answer (empty when no limit applies). */
  headers: Record<string, string>;
}

/** The 403/429 checks of the key and the rate limits; throws the refusal. */
export function admit(key: IndexedKey | null, route: Route, body: InferenceBody, clientIp: string, rt: Runtime, services: Services): Admitted {
  const now = Date.now();
  if (key) {
    try {
      authorize(key, body.model, clientIp, services.keys!.ledger, now);
    } catch (err) {
      if (err instanceof GatewayError && err.code === "insufficient_quota") metrics.rateLimited.labels("key", "quota").inc();
      throw err;
    }
  }
  const limits = rt.config.limits;
  const keySpec = key ? keyLimits(key, limits.perKey) : null;
  const modelSpec = limits.models[route.name] ?? null;
  const global = anyLimit(limits.global) ? limits.global : null;
  if (!keySpec && !modelSpec && !global) return { admission: null, headers: {} };
  const r = services.limiter.admit(
    { keyId: key ? key.record.id : null, key: keySpec, model: route.name, modelLimits: modelSpec, global, estimatedTokens: admissionEstimate(body) },
    now,
  );
  const headers = rateLimitHeaders(r.requests, r.tokens);
  if (r.ok) return { admission: r, headers };
  metrics.rateLimited.labels(r.scope, r.kind).inc();
  const what = r.kind === "concurrency" ? "requests in flight" : r.kind === "requests" ? "requests per minute" : "tokens per minute";
  const whose = r.scope === "key" ? "of this API key" : r.scope === "model" ? `of model "${route.name}"` : "of this gateway";
  const seconds = Math.max(1, Math.ceil(r.retryAfterMs / 1000));
  throw new GatewayError("rate_limit_exceeded", `Rate limit reached for ${what} ${whose}; retry in ${seconds} s.`, {
    headers: { ...headers, ...retryAfterHeaders(r.retryAfterMs) },
  });
}
