// Who is calling, and may they: the checks every proxied request passes with auth: keys.
// Everything here reads the in-memory key index; nothing waits on the database.

import { GatewayError } from "../errors.ts";
import type { IndexedKey, KeyIndex } from "./key-index.ts";
import { hashSecret } from "./key-secret.ts";
import type { QuotaLedger } from "./quota-ledger.ts";

/**
 * The key the client sent: Authorization: Bearer (OpenAI SDKs), x-api-key (Anthropic
 * SDK), or api-key (Azure OpenAI clients).
 */
export function presentedKey(headers: Headers): string | null {
  const auth = headers.get("authorization");
  if (auth !== null) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    return m ? m[1]! : "";
  }
  return headers.get("x-api-key") ?? headers.get("api-key");
}

/** The key of this request, or the 401 that says why not. */
export function authenticate(headers: Headers, index: KeyIndex, nowMs: number): IndexedKey {
  const secret = presentedKey(headers);
  if (secret === null || secret === "") throw new GatewayError("missing_api_key");
  const key = index.lookup(hashSecret(secret), nowMs);
  // One message for unknown and malformed keys: which keys exist is not the caller's business.
  if (!key) throw new GatewayError("invalid_api_key");
  const r = key.record;
  if (r.revokedAt !== null && r.revokedAt <= nowMs) throw new GatewayError("key_revoked", `The API key ${r.prefix}… has been revoked.`);
  if (r.expiresAt !== null && r.expiresAt <= nowMs) {
    throw new GatewayError("key_expired", `The API key ${r.prefix}… expired at ${new Date(r.expiresAt).toISOString()}.`);
  }
  return key;
}

/** May this key use this model from this address, with quota left? Throws 403/429. */
export function authorize(key: IndexedKey, model: string, clientIp: string, ledger: QuotaLedger, nowMs: number): void {
  const r = key.record;
  if (!key.modelAllowed(model)) {
    throw new GatewayError("model_not_allowed", `The API key ${r.prefix}… may not use model "${model}".`, { param: "model" });
  }
  if (!key.ipAllowed(clientIp)) {
    throw new GatewayError("ip_not_allowed", `The API key ${r.prefix}… may not be used from ${clientIp || "this address"}.`);
  }
  const used = ledger.exhausted(r, nowMs);
  if (used) {
    const which = used === "total" ? "its token quota" : used === "daily" ? "its daily token quota (resets at 00:00 UTC)" : "its monthly token quota (resets on the 1st, UTC)";
    throw new GatewayError("insufficient_quota", `The API key ${r.prefix}… has used ${which}.`);
  }
}
