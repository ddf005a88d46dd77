// Anthropic's Messages API in front of Gemini: the Anthropic door's translation to chat
// completions, then chat completions to generateContent (chain.ts), and Gemini's token
// counter for /v1/messages/count_tokens.

import { anthropicToOpenAi } from "./anthropic-to-openai.ts";
import { chain } from "./chain.ts";
import { geminiModelName, geminiResource } from "./gemini-request.ts";
import { isObject } from "./gemini-response.ts";
import { openAiToGemini } from "./openai-to-gemini.ts";
import { TranslationError, type EncodeContext, type EncodedRequest, type Translation } from "./types.ts";

const chained = chain(anthropicToOpenAi, openAiToGemini, "Gemini");

/**
 * Extended thinking, which chat completions cannot carry (the Anthropic door drops
 * `thinking` for OpenAI-compatible servers), is put back after the two halves as Gemini's
 * own: budget_tokens as thinkingBudget, and includeThoughts, so that the thought
 * summaries come back (as reasoning_content from the Gemini half, thinking blocks from
 * the Anthropic one), as Claude shows its thinking. Only "enabled": leaving it out keeps
 * the model's default, and a budget of 0 would be refused by the models that always think.
 */
function withThinkingBudget(body: Record<string, unknown>, encoded: EncodedRequest): EncodedRequest {
  const thinking = body.thinking;
  if (!isObject(thinking) || thinking.type !== "enabled") return encoded;
  const budget = thinking.budget_tokens;
  if (typeof budget !== "number" || !Number.isInteger(budget) || budget < 0) throw new TranslationError("thinking.budget_tokens must be a non-negative integer", "thinking.budget_tokens");
  const config = isObject(encoded.body.generationConfig) ? encoded.body.generationConfig : {};
  return { ...encoded, body: { ...encoded.body, generationConfig: { ...config, thinkingConfig: { thinkingBudget: budget, includeThoughts: true } } } };
}

export const anthropicToGemini: Translation = {
  ...chained,
  encodeRequest: (body, ctx) => withThinkingBudget(body, chained.encodeRequest(body, ctx)),
};

/** The parts of a generateContent request that count: what countTokens takes inside generateContentRequest. */
const COUNTED = ["contents", "systemInstruction", "tools", "toolConfig"] as const;

/**
 * A count_tokens request (a Messages request without max_tokens) as Gemini's countTokens:
 * POST /v1beta/models/{model}:countTokens {"generateContentRequest": {model, contents, ...}},
 * so that the system prompt and the tools are counted too, as Anthropic counts them.
 */
export function geminiCountRequest(body: Record<string, unknown>, ctx: EncodeContext): EncodedRequest {
  // max_tokens means nothing to a count (count_tokens requests carry none)
  const rest = { ...body };
  delete rest.max_tokens;
  const generate = anthropicToGemini.encodeRequest(rest, { ...ctx, stream: false }).body;
  const request: Record<string, unknown> = { model: geminiModelName(ctx.upstreamModel) };
  for (const k of COUNTED) if (generate[k] !== undefined) request[k] = generate[k];
  return { path: `/v1beta/${geminiResource(ctx.upstreamModel)}:countTokens`, body: { generateContentRequest: request } };
}

/** countTokens' answer ({"totalTokens": N}) as count_tokens' ({"input_tokens": N}). */
export function geminiCountAnswer(text: string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new TranslationError("the Gemini backend's count is not JSON");
  }
  const n = isObject(parsed) ? parsed.totalTokens : undefined;
  if (typeof n !== "number" || !Number.isInteger(n) || n < 0) throw new TranslationError("the Gemini backend's count has no totalTokens");
  return JSON.stringify({ input_tokens: n });
}
