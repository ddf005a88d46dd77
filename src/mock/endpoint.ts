// The contract between the handler and one wire format (one file per endpoint). The
// handler does everything common (x-mock-* headers, faults, timing, accounting); an
// endpoint only knows its JSON shapes.

import type { MockProvider } from "./error-bodies.ts";
import type { StreamScript } from "./event-stream.ts";
import type { AnswerFeatures } from "./options.ts";
import type { MockEndpointKind } from "./text.ts";

export type JsonObject = Record<string, unknown>;

/** One answer to produce, as the handler decided it. */
export interface Generation {
  /** The answer's id (chatcmpl-..., msg_..., resp_...): the endpoint's prefix + suffix. */
  id: string;
  /** Unique per request; also names tool calls (call_<suffix>) and output items. */
  suffix: string;
  /** Unix seconds. */
  created: number;
  /** The model as the client named it, JSON-encoded once for all events. */
  modelJson: string;
  body: JsonObject;
  /** Completion tokens to generate (the configured count, capped by the request's max). */
  tokens: number;
  /** True when the request's max_tokens (or equivalent) made the answer shorter. */
  cut: boolean;
  usage: boolean;
  promptTokens: number;
  /** Cache tokens, thinking, in-stream error: what the request's x-mock-* headers asked for. */
  features: AnswerFeatures;
}

export interface CompleteAnswer {
  body: string;
  /** Completion tokens in it. */
  tokens: number;
}

export interface MockEndpoint {
  provider: MockProvider;
  kind: MockEndpointKind;
  /** Prefix of the answer ids. */
  idPrefix: string;
  /** False for endpoints that answer without generating (embeddings, count_tokens). */
  generates: boolean;
  /** A 400 message when the body lacks what the real API requires, else null. */
  validate(body: JsonObject): string | null;
  /** The request's own cap on completion tokens, if any. */
  maxTokens(body: JsonObject): number | undefined;
  complete(g: Generation): CompleteAnswer;
  /** Absent when the endpoint never streams. */
  stream?(g: Generation): StreamScript;
}

export const SSE_DONE = "data: [DONE]\n\n";

/** A positive-or-zero integer field, or undefined when absent or not a number. */
export function intField(body: JsonObject, key: string): number | undefined {
  const v = body[key];
  return typeof v === "number" && Number.isFinite(v) && v >= 0 ? Math.floor(v) : undefined;
}

export function isObject(v: unknown): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
