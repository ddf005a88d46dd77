// Checks the schema cannot express: names that must be unique or must exist, fallback
// cycles, values that must be above zero. They run on the data even when the schema
// check failed, so every problem is reported in one pass; each check therefore looks at
// the types it needs and skips what the schema has already reported as wrong.

import type { PathSegment, PendingIssue } from "./paths.ts";
import { PROVIDERS, formatMessage } from "./schema.ts";
import { parseDuration, parseSize } from "./units.ts";

type Rec = Record<string, unknown>;

const isRec = (v: unknown): v is Rec => v !== null && typeof v === "object" && !Array.isArray(v);
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

const TIMEOUT_KEYS = ["connect", "first_byte", "idle", "total"] as const;
// RFC 9110 §5.6.2 token
const HEADER_NAME_RE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// Paths the gateway answers itself; metrics.path must not hide one of them.
const RESERVED_PATHS = [/^\/v1(\/|$)/, /^\/admin(\/|$)/, /^\/health$/, /^\/ready$/];

export function semanticIssues(data: unknown): PendingIssue[] {
  const issues: PendingIssue[] = [];
  if (!isRec(data)) return issues;
  const add = (path: PathSegment[], message: string, at?: "key") => issues.push(at ? { path, message, at } : { path, message });

  // ---- backends
  const backends = list(data.backends);
  const backendIndex = new Map<string, number>();
  backends.forEach((b, i) => {
    if (!isRec(b)) return;
    if (typeof b.name === "string") {
      const first = backendIndex.get(b.name);
      if (first !== undefined) add(["backends", i, "name"], `duplicate backend name "${b.name}" (also backends[${first}])`);
      else backendIndex.set(b.name, i);
    }
    if (typeof b.provider === "string" && b.provider !== "mock" && PROVIDERS.includes(b.provider) && b.url === undefined) {
      add(["backends", i], `missing required key "url" (every backend but provider mock needs one)`);
    }
    if (b.provider === "azure" && b.api_version === undefined) {
      add(["backends", i], `missing required key "api_version" (provider azure sends it with every request, e.g. api_version: "2024-10-21")`);
    }
    if (b.provider !== "azure" && b.api_version !== undefined) {
      add(["backends", i, "api_version"], `api_version is for provider azure only; remove it (this backend is provider ${String(b.provider)})`, "key");
    }
    if (isRec(b.timeouts)) positiveDurations(b.timeouts, ["backends", i, "timeouts"], add);
    if (isRec(b.headers)) {
      for (const [name, value] of Object.entries(b.headers)) {
        const path = ["backends", i, "headers", name];
        if (!HEADER_NAME_RE.test(name)) add(path, `bad header name "${name}": use letters, digits and - (an HTTP token)`, "key");
        if (typeof value === "string" && /[\r\n\0]/.test(value)) add(path, "a header value must not contain line breaks");
      }
    }
  });

  // ---- routes
  const models = list(data.models);
  const routeIndex = new Map<string, number>();
  let star: number | undefined;
  models.forEach((m, i) => {
    if (!isRec(m) || typeof m.name !== "string") return;
    if (m.name === "*") {
      if (star !== undefined) add(["models", i, "name"], `only one "*" route is allowed (the other is models[${star}])`);
      else star = i;
      return;
    }
    const first = routeIndex.get(m.name);
    if (first !== undefined) add(["models", i, "name"], `duplicate model name "${m.name}" (also models[${first}])`);
    else routeIndex.set(m.name, i);
  });

  const backendNames = [...backendIndex.keys()].join(", ");
  const routeNames = [...routeIndex.keys()].join(", ");
  models.forEach((m, i) => {
    if (!isRec(m)) return;
    // A target can only name an unknown backend if there is a list of backends to look in.
    if (backendIndex.size > 0) {
      list(m.targets).forEach((t, k) => {
        if (isRec(t) && typeof t.backend === "string" && !backendIndex.has(t.backend)) {
          add(["models", i, "targets", k, "backend"], `unknown backend "${t.backend}" (backends are: ${backendNames})`);
        }
      });
    }
    list(m.fallback).forEach((f, k) => {
      if (typeof f !== "string") return;
      if (f === m.name) add(["models", i, "fallback", k], `a model cannot fall back to itself`);
      else if (!routeIndex.has(f)) add(["models", i, "fallback", k], `unknown model "${f}" (models are: ${routeNames})`);
    });
    if (m.strategy === "weighted") {
      const weights = list(m.targets).map((t) => (isRec(t) ? targetWeight(t, backends, backendIndex) : 1));
      if (weights.length > 0 && weights.every((w) => w === 0)) {
        add(["models", i, "targets"], "every target has weight 0, so the weighted strategy can pick none");
      }
    }
  });
  fallbackCycles(models, routeIndex, add);

  // ---- limits per model must name a route
  const limits = isRec(data.limits) ? data.limits : undefined;
  if (limits && isRec(limits.models)) {
    for (const name of Object.keys(limits.models)) {
      if (name !== "*" && !routeIndex.has(name)) add(["limits", "models", name], `unknown model "${name}" (models are: ${routeNames})`, "key");
      else if (name === "*" && star === undefined) add(["limits", "models", name], `there is no "*" route to limit`, "key");
    }
  }

  // ---- the rest
  if (isRec(data.timeouts)) positiveDurations(data.timeouts, ["timeouts"], add);
  if (isRec(data.server)) {
    const drain = data.server.drain_timeout;
    if (typeof drain === "string" && parseDuration(drain) === 0) add(["server", "drain_timeout"], `must be longer than 0, got "${drain}"`);
    const keepAlive = data.server.keepalive_timeout;
    const keepAliveMs = typeof keepAlive === "string" ? parseDuration(keepAlive) : null;
    // Bun.serve takes whole seconds, 1 to 255
    if (keepAliveMs !== null && (keepAliveMs < 1000 || keepAliveMs > 255_000)) {
      add(["server", "keepalive_timeout"], `must be between 1s and 255s, got "${keepAlive}"`);
    }
    const maxBody = data.server.max_body;
    // the schema's format only checks strings; a negative integer is caught here
    if (typeof maxBody === "number" && Number.isInteger(maxBody) && parseSize(maxBody) === null) {
      add(["server", "max_body"], formatMessage("size", maxBody));
    }
    if ((typeof maxBody === "number" || typeof maxBody === "string") && parseSize(maxBody) === 0) {
      add(["server", "max_body"], `must be greater than 0, got ${JSON.stringify(maxBody)}`);
    }
  }
  if (isRec(data.metrics) && typeof data.metrics.path === "string") {
    const p = data.metrics.path;
    if (RESERVED_PATHS.some((re) => re.test(p))) add(["metrics", "path"], `"${p}" is one of the gateway's own endpoints; pick another path`);
  }
  return issues;
}

function positiveDurations(t: Rec, path: PathSegment[], add: (path: PathSegment[], message: string) => void): void {
  for (const key of TIMEOUT_KEYS) {
    const v = t[key];
    if (typeof v === "string" && parseDuration(v) === 0) add([...path, key], `must be longer than 0, got "${v}"`);
  }
}

function targetWeight(t: Rec, backends: unknown[], index: Map<string, number>): number {
  if (typeof t.weight === "number") return t.weight;
  const b = typeof t.backend === "string" ? backends[index.get(t.backend) ?? -1] : undefined;
  return isRec(b) && typeof b.weight === "number" ? b.weight : 1;
}

// A fallback chain that comes back to where it started would never end. Each cycle is
// reported once, at the fallback entry that closes it.
function fallbackCycles(models: unknown[], routeIndex: Map<string, number>, add: (path: PathSegment[], message: string) => void): void {
  const edges = (i: number): { to: number; k: number }[] => {
    const m = models[i];
    if (!isRec(m)) return [];
    return list(m.fallback).flatMap((f, k) => {
      const to = typeof f === "string" && f !== m.name ? routeIndex.get(f) : undefined;
      return to === undefined ? [] : [{ to, k }];
    });
  };
  const name = (i: number) => String((models[i] as Rec).name);
  const state = new Map<number, "open" | "done">();
  const stack: number[] = [];
  const visit = (i: number): void => {
    state.set(i, "open");
    stack.push(i);
    for (const { to, k } of edges(i)) {
      if (state.get(to) === "open") {
        const cycle = [...stack.slice(stack.indexOf(to)), to].map(name);
        add(["models", i, "fallback", k], `fallback cycle: ${cycle.join(" -> ")}`);
      } else if (!state.has(to)) {
        visit(to);
      }
    }
    stack.pop();
    state.set(i, "done");
  };
  for (const i of routeIndex.values()) if (!state.has(i)) visit(i);
}
