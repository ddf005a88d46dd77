// An OpenAI chat-completions client in front of Google's Gemini API (generateContent and
// streamGenerateContent?alt=sse). The request side is gemini-request.ts (with the schema
// subset in gemini-schema.ts and the tool call ids in gemini-tool-ids.ts), the stream
// side gemini-stream.ts; this file holds the whole-answer decoder and puts them together.
//
// Decisions, for whoever reads an answer and wonders:
// - n > 1 is sent as candidateCount, each candidate one choice (models that cannot make
//   several refuse it themselves, with a 400 the client sees).
// - Usage: thoughtsTokenCount counts as completion tokens (and reasoning_tokens), the
//   cached part of the prompt as cached_tokens; see geminiUsage.
// - Gemini's function calls have no ids: they get stable ones made from the answer, which
//   also carry Gemini 3's thought signatures back (gemini-tool-ids.ts).
// - The completion id is chatcmpl-<responseId>; `created` is the gateway's arrival time;
//   `model` the name the client asked for.

import { encodeGeminiRequest } from "./gemini-request.ts";
import { candidateParts, completionId, decodeGeminiError, finishReason, geminiUsage, isObject, openAiUsage } from "./gemini-response.ts";
import { GeminiStreamTranslator } from "./gemini-stream.ts";
import { TranslationError, type DecodedResponse, type EncodeContext, type Translation } from "./types.ts";

type Json = Record<string, unknown>;

function decodeResponse(text: string, ctx: EncodeContext): DecodedResponse {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new TranslationError("the Gemini backend's answer is not JSON");
  }
  if (!isObject(parsed)) throw new TranslationError("the Gemini backend's answer is not a JSON object");
  const responseId = typeof parsed.responseId === "string" ? parsed.responseId : "";
  const candidates = Array.isArray(parsed.candidates) ? parsed.candidates : [];
  const choices: Json[] = [];
  let generated = "";
  for (let p = 0; p < candidates.length; p++) {
    const c: unknown = candidates[p];
    if (!isObject(c)) continue;
    const index = typeof c.index === "number" ? c.index : p;
    const parts = candidateParts(c.content, { responseId, choice: index, firstCall: 0 });
    const hasCalls = parts.calls.length > 0;
    const message: Json = { role: "assistant", content: parts.text === "" && hasCalls ? null : parts.text };
    if (parts.reasoning !== "") message.reasoning_content = parts.reasoning;
    if (hasCalls) {
      message.tool_calls = parts.calls.map((call) => ({ id: call.id, type: "function", function: { name: call.name, arguments: call.arguments } }));
    }
    message.refusal = null;
    generated += parts.text;
    for (const call of parts.calls) generated += call.arguments;
    choices.push({ index, message, logprobs: null, finish_reason: finishReason(c.finishReason, hasCalls) });
  }
  if (choices.length === 0) {
    // No candidate: the prompt was blocked (promptFeedback.blockReason), or nothing came.
    const blocked = isObject(parsed.promptFeedback) && typeof parsed.promptFeedback.blockReason === "string";
    choices.push({ index: 0, message: { role: "assistant", content: "", refusal: null }, logprobs: null, finish_reason: blocked ? "content_filter" : "stop" });
  }
  const usage = geminiUsage(parsed.usageMetadata);
  const body: Json = { id: completionId(responseId), object: "chat.completion", created: ctx.created, model: ctx.clientModel, choices };
  if (usage !== null) body.usage = openAiUsage(usage);
  return { body: JSON.stringify(body), usage: usage?.usage ?? null, text: generated };
}

export const openAiToGemini: Translation = {
  encodeRequest: encodeGeminiRequest,
  decodeResponse,
  streamTranslator: (ctx) => new GeminiStreamTranslator(ctx),
  decodeError: decodeGeminiError,
};
