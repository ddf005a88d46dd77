// Client side of the routing tests: send a chat completion through the gateway and learn
// which backend served it (the x-llmproxy-backend header, server.backend_header: true),
// tally many of them, and read metrics. Nothing here waits on a clock.

import { metricValue } from "./daemon.ts";
import type { LogLine, ProxyProcess } from "./proxy.ts";

export interface Served {
  status: number;
  /** x-llmproxy-backend: the backend whose answer the client got; null on errors. */
  backend: string | null;
  requestId: string;
  headers: Headers;
  text: string;
}

export interface ChatOptions {
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

/** One non-streamed chat completion for `model`, read to its end. */
export async function chat(url: string, model: string, opts: ChatOptions = {}): Promise<Served> {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", ...opts.headers },
    body: JSON.stringify({ model, messages: [{ role: "user", content: "hi" }] }),
    signal: opts.signal,
  });
  const text = await res.text();
  return { status: res.status, backend: res.headers.get("x-llmproxy-backend"), requestId: res.headers.get("x-request-id") ?? "", headers: res.headers, text };
}

/** A chat that must succeed; returns the backend that served it. */
export async function chatOk(url: string, model: string, opts: ChatOptions = {}): Promise<string> {
  const s = await chat(url, model, opts);
  if (s.status !== 200 || s.backend === null) throw new Error(`${model}: expected 200 with x-llmproxy-backend, got ${s.status} (${s.backend}): ${s.text}`);
  return s.backend;
}

/** `n` chats one after the other, each must succeed; the backends that served them, in order. */
export async function chatSequence(url: string, model: string, n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(await chatOk(url, model));
  return out;
}

/** How many times each value occurs. */
export function tally(values: readonly (string | null)[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[String(v)] = (out[String(v)] ?? 0) + 1;
  return out;
}

export async function metricsText(url: string): Promise<string> {
  const res = await fetch(`${url}/metrics`);
  if (res.status !== 200) throw new Error(`GET /metrics answered ${res.status}`);
  return await res.text();
}

export async function metric(url: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  return metricValue(await metricsText(url), name, labels);
}

/** The error code of an OpenAI-style error body. */
export function errorOf(text: string): { code: string; type: string; message: string } {
  return (JSON.parse(text) as { error: { code: string; type: string; message: string } }).error;
}

/** The access-log lines of these requests, in the same order (waits for each). */
export async function accessLines(proxy: ProxyProcess, requestIds: readonly string[]): Promise<LogLine[]> {
  const out: LogLine[] = [];
  for (const id of requestIds) out.push(await proxy.accessLine(id));
  return out;
}

export const isEjection = (backend: string) => (l: LogLine) => l.msg.startsWith("backend ejected") && l.backend === backend;
export const isBack = (backend: string) => (l: LogLine) => l.msg.startsWith("backend back") && l.backend === backend;

/**
 * The first lines of every routing test's config: no virtual keys (these tests are about
 * routing), the answering backend in a header, and a short drain so that a request a
 * failed test left behind never keeps the daemon from stopping for long.
 */
export const ROUTING_CONFIG_HEAD = `auth: none
server: { backend_header: true, drain_timeout: 2s }
`;
