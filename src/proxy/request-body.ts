// Parse and check an inference request body before anything is forwarded. Only the
// fields the gateway itself relies on are checked (model, stream, stream_options, the
// endpoint's required input); everything else is the backend's business and reaches it
// untouched.

import { GatewayError } from "../errors.ts";
import type { Endpoint } from "./endpoints.ts";
import { findTopLevelMember, prependTopLevelMember, replaceTopLevelValue } from "./json-splice.ts";

export interface InferenceBody {
  /** The body exactly as the client sent it. */
  readonly text: string;
  readonly json: Record<string, unknown>;
  readonly model: string;
  readonly stream: boolean;
  /** The client asked for the usage chunk itself (stream_options.include_usage: true). */
  readonly clientIncludeUsage: boolean;
}

function typeName(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  return typeof v === "object" ? "an object" : `a ${typeof v}`;
}

function invalid(param: string, message: string): GatewayError {
  return new GatewayError("invalid_request", message, { param });
}

/** Fields that, when present, must be numbers: a wrong type here would only fail later. */
const NUMERIC = ["max_tokens", "max_completion_tokens", "max_output_tokens", "n", "temperature", "top_p"] as const;

export function parseInferenceBody(text: string, endpoint: Endpoint): InferenceBody {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new GatewayError("invalid_json", `The request body is not valid JSON: ${why}`);
  }
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    throw new GatewayError("invalid_request", `The request body must be a JSON object, got ${typeName(json)}.`);
  }
  const body = json as Record<string, unknown>;
  const model = body.model;
  if (model === undefined || model === null || model === "") throw new GatewayError("missing_model", undefined, { param: "model" });
  if (typeof model !== "string") throw invalid("model", `"model" must be a string, got ${typeName(model)}.`);

  const stream = body.stream;
  if (stream !== undefined && stream !== null && typeof stream !== "boolean") {
    throw invalid("stream", `"stream" must be true or false, got ${typeName(stream)}.`);
  }
  if (stream === true && endpoint.streamUsage === "never") {
    throw invalid("stream", `${endpoint.path} does not stream; remove "stream".`);
  }
  const so = body.stream_options;
  if (so !== undefined && so !== null && (typeof so !== "object" || Array.isArray(so))) {
    throw invalid("stream_options", `"stream_options" must be an object, got ${typeName(so)}.`);
  }
  const includeUsage = so ? (so as Record<string, unknown>).include_usage : undefined;
  if (includeUsage !== undefined && includeUsage !== null && typeof includeUsage !== "boolean") {
    throw invalid("stream_options.include_usage", `"stream_options.include_usage" must be true or false, got ${typeName(includeUsage)}.`);
  }
  if (endpoint.required !== null) {
    const v = body[endpoint.required];
    if (v === undefined || v === null) {
      throw invalid(endpoint.required, `"${endpoint.required}" is required by ${endpoint.path}.`);
    }
    if (endpoint.required === "messages" && !Array.isArray(v)) {
      throw invalid("messages", `"messages" must be an array of messages, got ${typeName(v)}.`);
    }
  }
  for (const k of NUMERIC) {
    const v = body[k];
    if (v !== undefined && v !== null && typeof v !== "number") {
      throw invalid(k, `"${k}" must be a number, got ${typeName(v)}.`);
    }
  }
  return { text, json: body, model, stream: stream === true, clientIncludeUsage: includeUsage === true };
}

const INCLUDE_USAGE = '{"include_usage":true}';

/**
 * The body to send upstream: the client's bytes, with the model renamed when the route
 * says so and stream_options.include_usage turned on when `injectUsage`.
 */
export function upstreamBodyText(req: InferenceBody, upstreamModel: string | undefined, injectUsage: boolean): string {
  let text = req.text;
  if (upstreamModel !== undefined && upstreamModel !== req.model) {
    const span = findTopLevelMember(text, "model");
    if (span) text = replaceTopLevelValue(text, span, JSON.stringify(upstreamModel));
  }
  if (injectUsage) {
    const so = req.json.stream_options;
    if (so === undefined) {
      text = prependTopLevelMember(text, "stream_options", INCLUDE_USAGE);
    } else {
      // present as null or without include_usage: true; keep its other options
      const span = findTopLevelMember(text, "stream_options");
      const merged = JSON.stringify({ ...(so as Record<string, unknown> | null), include_usage: true });
      if (span) text = replaceTopLevelValue(text, span, merged);
    }
  }
  return text;
}
