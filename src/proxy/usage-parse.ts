// Reading token usage out of backend answers. OpenAI-style bodies carry
// usage{prompt_tokens, completion_tokens, prompt_tokens_details.cached_tokens}; the
// Responses API uses input_tokens/output_tokens; DeepSeek reports cache hits as
// prompt_cache_hit_tokens. Cached tokens are part of the prompt count in every one of
// these, so they are reported beside it, never added to it.
//
// Anthropic is the exception: its input_tokens leaves out the tokens read from and
// written to the cache (cache_read_input_tokens, cache_creation_input_tokens, always
// present as keys in its usage objects), so the prompt is their sum.

import type { TokenUsage } from "../metering/usage.ts";

function num(v: unknown): number {
  return typeof v === "number" && Number.isFinite(v) && v >= 0 ? v : 0;
}

export function usageFromObject(u: unknown): TokenUsage | null {
  if (!u || typeof u !== "object") return null;
  const o = u as Record<string, unknown>;
  const details = (o.prompt_tokens_details ?? o.input_tokens_details) as Record<string, unknown> | null | undefined;
  if ("prompt_tokens" in o || "completion_tokens" in o) {
    return {
      promptTokens: num(o.prompt_tokens),
      completionTokens: num(o.completion_tokens),
      cachedTokens: num(details?.cached_tokens) || num(o.prompt_cache_hit_tokens),
      cacheWriteTokens: 0,
    };
  }
  if ("cache_read_input_tokens" in o || "cache_creation_input_tokens" in o) return anthropicUsage(o);
  if ("input_tokens" in o || "output_tokens" in o) {
    return { promptTokens: num(o.input_tokens), completionTokens: num(o.output_tokens), cachedTokens: num(details?.cached_tokens), cacheWriteTokens: 0 };
  }
  return null;
}

function anthropicUsage(o: Record<string, unknown>): TokenUsage {
  const read = num(o.cache_read_input_tokens);
  const write = num(o.cache_creation_input_tokens);
  return { promptTokens: num(o.input_tokens) + read + write, completionTokens: num(o.output_tokens), cachedTokens: read, cacheWriteTokens: write };
}

/**
 * An Anthropic stream's usage so far: message_start carries the input counts (and an
 * output count of 1 or so), each message_delta the output count so far and, in newer API
 * versions, the input counts again. A later event's fields replace earlier ones; fields
 * it leaves out keep their value.
 */
export function mergeAnthropicUsage(prev: TokenUsage | null, u: unknown): TokenUsage | null {
  if (!u || typeof u !== "object") return prev;
  const o = u as Record<string, unknown>;
  if (!prev) return "input_tokens" in o || "output_tokens" in o ? anthropicUsage(o) : null;
  const read = "cache_read_input_tokens" in o ? num(o.cache_read_input_tokens) : prev.cachedTokens;
  const write = "cache_creation_input_tokens" in o ? num(o.cache_creation_input_tokens) : prev.cacheWriteTokens;
  const input = "input_tokens" in o ? num(o.input_tokens) : prev.promptTokens - prev.cachedTokens - prev.cacheWriteTokens;
  return {
    promptTokens: input + read + write,
    completionTokens: "output_tokens" in o ? num(o.output_tokens) : prev.completionTokens,
    cachedTokens: read,
    cacheWriteTokens: write,
  };
}

const USAGE_KEY = '"usage"';

/**
 * The `usage` object of a JSON answer, found without parsing the whole answer: the last
 * `"usage"` key (it closes OpenAI-style bodies) followed by an object, parsed alone.
 * Inside JSON strings the quotes of a literal "usage" are escaped, so the search cannot
 * match message text.
 */
export function usageFromJsonText(text: string): TokenUsage | null {
  let from = text.length;
  for (;;) {
    const k = text.lastIndexOf(USAGE_KEY, from);
    if (k < 0) return null;
    let i = k + USAGE_KEY.length;
    while (i < text.length && text.charCodeAt(i) <= 32) i++;
    if (text.charCodeAt(i) === 58 /* : */) {
      i++;
      while (i < text.length && text.charCodeAt(i) <= 32) i++;
      if (text.charCodeAt(i) === 123 /* { */) {
        const end = matchBrace(text, i);
        if (end > 0) {
          try {
            return usageFromObject(JSON.parse(text.slice(i, end)));
          } catch {
            return null;
          }
        }
      }
    }
    if (k === 0) return null;
    from = k - 1;
  }
}

/** Index just past the object starting at `i`, or -1 when it is not closed in `text`. */
export function matchBrace(text: string, i: number): number {
  let depth = 0;
  for (let j = i; j < text.length; j++) {
    const c = text.charCodeAt(j);
    if (c === 34 /* " */) {
      j++;
      while (j < text.length) {
        const d = text.charCodeAt(j);
        if (d === 92 /* \ */) j += 2;
        else if (d === 34) break;
        else j++;
      }
    } else if (c === 123) depth++;
    else if (c === 125) {
      depth--;
      if (depth === 0) return j + 1;
    }
  }
  return -1;
}
