// The listen address: host:port, or [v6]:port for IPv6 (the brackets keep the port
// separable from the address, as in URLs, RFC 3986 §3.2.2). The host is required so
// that exposing the gateway on every interface (0.0.0.0, [::]) is always a written choice.

import { isIP } from "node:net";
import type { ListenAddress } from "./types.ts";

export const LISTEN_HINT = "use host:port, e.g. 127.0.0.1:8080 or [::1]:8080";

const HOSTNAME_RE = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

type Parsed = { ok: true; address: ListenAddress } | { ok: false; reason: string };

function parse(s: string): Parsed {
  const bad = { ok: false as const, reason: LISTEN_HINT };
  let host: string;
  let port: string;
  if (s.startsWith("[")) {
    const end = s.indexOf("]");
    if (end < 0 || s[end + 1] !== ":") return bad;
    host = s.slice(1, end);
    port = s.slice(end + 2);
    if (isIP(host) !== 6) return { ok: false, reason: `"${host}" is not an IPv6 address; ${LISTEN_HINT}` };
  } else {
    const colon = s.lastIndexOf(":");
    if (colon < 0) return bad;
    host = s.slice(0, colon);
    port = s.slice(colon + 1);
    if (host.includes(":")) return { ok: false, reason: `put an IPv6 address in brackets, e.g. [::1]:8080` };
    if (!(isIP(host) === 4 || HOSTNAME_RE.test(host))) return bad;
  }
  if (!/^\d{1,5}$/.test(port)) return bad;
  const n = Number(port);
  if (n > 65535) return { ok: false, reason: `the port must be 0-65535 (0 picks a free port)` };
  return { ok: true, address: { host, port: n } };
}

/** "127.0.0.1:8080" → {host: "127.0.0.1", port: 8080}; "[::1]:0" → {host: "::1", port: 0}. */
export function parseListen(s: string): ListenAddress | null {
  const r = parse(s);
  return r.ok ? r.address : null;
}

/** Why s is not a listen address, or null when it is one. */
export function listenProblem(s: string): string | null {
  const r = parse(s);
  return r.ok ? null : r.reason;
}
