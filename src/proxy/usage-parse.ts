// Reading token usage out of backend answers. OpenAI-style bodies carry
// usage{prompt_tokens, completion_tokens, prompt_tokens_details.cached_tokens}; the
// Responses API uses input_tokens/output_tokens; DeepSeek reports cache hits as
// prompt_cache_hit_tokens. Cached tokens are part of the prompt count in every one of
// these, so they are reported beside it, never added to it.

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
    };
  }
  if ("input_tokens" in o || "output_tokens" in o) {
    return { promptTokens: num(o.input_tokens), completionTokens: num(o.output_tokens), cachedTokens: num(details?.cached_tokens) };
  }
  return null;
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
