// Backend base URLs. The request path (/v1/chat/completions, ...) is appended to the
// base, so a query or fragment in the base would end up in the middle of the request URL,
// and credentials in the URL would leak into logs: both are refused. A trailing "/v1" is
// accepted (some people write it), the description in the schema tells what it means.

/** Why s is not an http(s) base URL, or null when it is one. */
export function httpUrlProblem(s: string): string | null {
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    return "must be an http(s) URL";
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") return "must be an http(s) URL";
  if (!u.hostname) return "must be an http(s) URL with a host";
  if (u.search || s.includes("?")) return "must be an http(s) URL without a ?query";
  if (u.hash || s.includes("#")) return "must be an http(s) URL without a #fragment";
  if (u.username || u.password) return "must be an http(s) URL without user:password@ (use api_key or headers)";
  return null;
}

/** The base URL without trailing slashes, so that base + "/v1/..." never doubles one. */
export function normalizeBaseUrl(s: string): string {
  return s.replace(/\/+$/, "");
}
