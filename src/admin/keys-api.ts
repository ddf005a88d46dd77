// The admin REST API for keys (/admin/keys, behind admin_token): the same operations as
// `llmproxy keys`, on the same store, with the same checks. Secrets appear only in the
// answers to create and rotate. After each change the daemon's key index is reloaded at
// once (its own writes do not show in SQLite's data_version, which the poll watches).

import type { KeyService } from "../auth/key-service.ts";
import { GatewayError } from "../errors.ts";
import { KeyNotFoundError, StoreError } from "../store/errors.ts";
import { keyInputProblems, parseExpiry } from "../store/key-input.ts";
import { keyView } from "../store/key-view.ts";
import type { KeyPatch, NewKey } from "../store/types.ts";
import { durationFlagValue } from "./durations.ts";

const JSON_HEADERS = { "content-type": "application/json" };

function json(body: unknown, status: number, requestId: string): Response {
  return new Response(JSON.stringify(body), { status, headers: { ...JSON_HEADERS, "x-request-id": requestId } });
}

function invalid(message: string): GatewayError {
  return new GatewayError("invalid_request", message);
}

async function readJson(req: Request): Promise<Record<string, unknown>> {
  const text = await req.text();
  if (text.trim() === "") return {};
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new GatewayError("invalid_json", `The request body is not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!v || typeof v !== "object" || Array.isArray(v)) throw invalid("The request body must be a JSON object.");
  return v as Record<string, unknown>;
}

const FIELDS = new Set(["name", "models", "ips", "rpm", "tpm", "concurrency", "quota", "expires", "metadata"]);

/** The JSON body of create/update as a NewKey/KeyPatch; every problem reported at once. */
function keyInput(body: Record<string, unknown>, now: number): KeyPatch {
  const problems: string[] = [];
  for (const k of Object.keys(body)) if (!FIELDS.has(k)) problems.push(`${k}: unknown field (fields: ${[...FIELDS].join(", ")})`);
  const out: KeyPatch = {};
  if ("name" in body) out.name = body.name as string;
  if ("models" in body) out.models = body.models as string[];
  if ("ips" in body) out.ips = body.ips as string[];
  if ("metadata" in body) out.metadata = body.metadata as Record<string, string>;
  const limits: NonNullable<KeyPatch["limits"]> = {};
  for (const k of ["rpm", "tpm", "concurrency"] as const) if (k in body) limits[k] = body[k] as number | null;
  if (Object.keys(limits).length) out.limits = limits;
  if ("quota" in body) {
    if (!body.quota || typeof body.quota !== "object") problems.push("quota: must be an object with total, daily, monthly");
    else out.quota = body.quota as NonNullable<KeyPatch["quota"]>;
  }
  if ("expires" in body) {
    const e = body.expires;
    if (e === null) out.expiresAt = null;
    else if (typeof e !== "string") problems.push('expires: must be a string ("30d", "2027-01-31", "2027-01-31T12:00:00Z", "never") or null');
    else {
      const r = parseExpiry(e, now);
      if (r.ok) out.expiresAt = r.value;
      else problems.push(`expires: ${r.problem}`);
    }
  }
  problems.push(...keyInputProblems(out, "update"));
  if (problems.length) throw invalid(`Invalid key: ${problems.join("; ")}`);
  return out;
}

/** /admin/keys and /admin/keys/{id}[/rotate|/revoke]; `rest` is the path after /admin/keys. */
export async function keysApi(req: Request, rest: string, keys: KeyService, requestId: string): Promise<Response> {
  const store = keys.store;
  const now = Date.now();
  const parts = rest.split("/").filter(Boolean);
  try {
    if (parts.length === 0) {
      if (req.method === "GET") return json({ object: "list", data: store.list().map((r) => keyView(r, now)) }, 200, requestId);
      if (req.method === "POST") {
        const input = keyInput(await readJson(req), now);
        if (input.name === undefined) throw invalid("Invalid key: name: required");
        const issued = store.create(input as NewKey, now);
        keys.refresh("admin API");
        return json({ ...keyView(issued.record, now), secret: issued.secret }, 201, requestId);
      }
      throw methodNotAllowed(req.method, "/admin/keys", "GET, POST");
    }
    const id = decodeURIComponent(parts[0]!);
    const action = parts[1];
    if (parts.length > 2 || (action !== undefined && action !== "rotate" && action !== "revoke")) {
      throw new GatewayError("not_found", `No endpoint ${req.method} /admin/keys${rest}.`);
    }
    if (action === "rotate") {
      if (req.method !== "POST") throw methodNotAllowed(req.method, `/admin/keys/${id}/rotate`, "POST");
      const body = await readJson(req);
      const grace = body.grace === undefined ? 0 : durationFlagValue("grace", body.grace);
      const issued = store.rotate(id, grace, now);
      keys.refresh("admin API");
      return json({ ...keyView(issued.record, now), secret: issued.secret }, 200, requestId);
    }
    if (action === "revoke" || req.method === "DELETE") {
      if (action === "revoke" && req.method !== "POST") throw methodNotAllowed(req.method, `/admin/keys/${id}/revoke`, "POST");
      const { record, alreadyRevoked } = store.revoke(id, now);
      keys.refresh("admin API");
      return json({ ...keyView(record, now), already_revoked: alreadyRevoked }, 200, requestId);
    }
    if (req.method === "GET") {
      const r = store.get(id);
      if (!r) throw new KeyNotFoundError(id);
      return json(keyView(r, now), 200, requestId);
    }
    if (req.method === "PATCH") {
      const record = store.update(id, keyInput(await readJson(req), now), now);
      keys.refresh("admin API");
      return json(keyView(record, now), 200, requestId);
    }
    throw methodNotAllowed(req.method, `/admin/keys/${id}`, "GET, PATCH, DELETE");
  } catch (err) {
    if (err instanceof KeyNotFoundError) throw new GatewayError("not_found", `No key with id "${err.id}".`);
    if (err instanceof StoreError) throw invalid(err.message);
    throw err;
  }
}

function methodNotAllowed(method: string, path: string, allowed: string): GatewayError {
  return new GatewayError("method_not_allowed", `${method} is not allowed on ${path}; use ${allowed}.`, { headers: { allow: allowed } });
}
