// Backend base URLs. The request path (/v1/chat/completions, ...) is appended to the
// base, so a query or fragment in the base would end up in the middle of the request URL,
// and credentials in the URL would leak into logs: both are refused.
//
// Two conventions meet here. A server's address (http://10.0.0.5:8000) gets the whole
// path, /v1 included. A URL with a path is an API base as the OpenAI SDKs take it,
// version included (https://api.deepseek.com/v1, https://open.bigmodel.cn/api/paas/v4,
// https://dashscope-intl.aliyuncs.com/compatible-mode/v1): it gets the path without its
// /v1. Providers document their base URL in the second form, so both must work.

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

/** Whether the URL names an API base (it has a path), rather than a server's address. */
export function isApiBase(url: string): boolean {
  const path = new URL(url).pathname;
  return path !== "" && path !== "/";
}

/** The base URL without trailing slashes, so that base + "/v1/..." never doubles one. */
export function normalizeBaseUrl(s: string): string {
  return s.replace(/\/+$/, "");
}
