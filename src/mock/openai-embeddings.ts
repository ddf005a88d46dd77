// POST /v1/embeddings in OpenAI's format. Vectors are deterministic (seeded by the input
// text), unit length like OpenAI's, and already rounded to float32, so the "float" and
// "base64" (float32 little-endian) encodings of one input decode to the same numbers.
// The openai npm client asks for base64 by default and decodes it itself.

import { intField, type Generation, type MockEndpoint } from "./endpoint.ts";

export const DEFAULT_EMBEDDING_DIMENSIONS = 8;
/** Above the largest real model (3072), with room; bounds the work one request can ask for. */
const MAX_DIMENSIONS = 8192;

/** FNV-1a: a small, stable string hash to seed each input's vector. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** The embedding of one input: mulberry32 numbers from its hash, normalized, float32. */
export function mockEmbedding(input: string, dimensions: number): Float32Array {
  let state = fnv1a(input);
  const v = new Float32Array(dimensions);
  let norm = 0;
  for (let i = 0; i < dimensions; i++) {
    state = (state + 0x6d2b79f5) | 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const x = ((t ^ (t >>> 14)) >>> 0) / 4294967296 - 0.5;
    v[i] = x;
    norm += x * x;
  }
  const scale = norm > 0 ? 1 / Math.sqrt(norm) : 0;
  for (let i = 0; i < dimensions; i++) v[i] = (v[i] as number) * scale;
  return v;
}

/**
 * The inputs of a request, each as the string its vector is seeded with; null when
 * `input` is not one of string | string[] | number[] | number[][] (or is empty).
 */
export function embeddingInputs(input: unknown): string[] | null {
  if (typeof input === "string") return [input];
  if (!Array.isArray(input) || input.length === 0) return null;
  if (input.every((x) => typeof x === "string")) return input as string[];
  // One prompt given as token ids.
  if (input.every((x) => typeof x === "number")) return [input.join(",")];
  if (input.every((x) => Array.isArray(x) && x.length > 0 && x.every((t) => typeof t === "number"))) {
    return (input as number[][]).map((tokens) => tokens.join(","));
  }
  return null;
}

function base64(v: Float32Array): string {
  // Explicit little-endian, whatever the host's byte order.
  const view = new DataView(new ArrayBuffer(v.length * 4));
  for (let i = 0; i < v.length; i++) view.setFloat32(i * 4, v[i] as number, true);
  return Buffer.from(view.buffer).toString("base64");
}

function dimensionsOf(g: Generation): number {
  return intField(g.body, "dimensions") ?? DEFAULT_EMBEDDING_DIMENSIONS;
}

function complete(g: Generation): { body: string; tokens: number } {
  const inputs = embeddingInputs(g.body.input) ?? [];
  const dims = dimensionsOf(g);
  const asBase64 = g.body.encoding_format === "base64";
  const data: string[] = [];
  for (let i = 0; i < inputs.length; i++) {
    const v = mockEmbedding(inputs[i] as string, dims);
    const embedding = asBase64 ? `"${base64(v)}"` : `[${v.join(",")}]`;
    data.push(`{"object":"embedding","index":${i},"embedding":${embedding}}`);
  }
  const usage = g.usage ? `,"usage":{"prompt_tokens":${g.promptTokens},"total_tokens":${g.promptTokens}}` : "";
  return { body: `{"object":"list","data":[${data.join(",")}],"model":${g.modelJson}${usage}}`, tokens: 0 };
}

export const openaiEmbeddings: MockEndpoint = {
  provider: "openai",
  kind: "embeddings",
  idPrefix: "emb-",
  generates: false,
  validate(body) {
    if (body.input === undefined) return "Missing required parameter: 'input'.";
    if (embeddingInputs(body.input) === null) return "'input' must be a non-empty string, array of strings, array of token ids or array of token id arrays.";
    const dims = body.dimensions;
    if (dims !== undefined && (typeof dims !== "number" || !Number.isInteger(dims) || dims < 1 || dims > MAX_DIMENSIONS)) {
      return `'dimensions' must be an integer from 1 to ${MAX_DIMENSIONS}.`;
    }
    if (body.encoding_format !== undefined && body.encoding_format !== "float" && body.encoding_format !== "base64") {
      return "'encoding_format' must be 'float' or 'base64'.";
    }
    return null;
  },
  maxTokens: () => undefined,
  complete,
};
