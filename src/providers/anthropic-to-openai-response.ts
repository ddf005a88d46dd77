// An OpenAI chat.completion answer as an Anthropic Message, and the mappings the stream
// translator shares (stop reasons, usage, ids).
//
// - `model` is the name the client asked for: Anthropic answers with the requested
//   model, and a client (Claude Code) that compares names must not see the route's
//   upstream rename.
// - `id` is "msg_" + the backend's completion id: stable (the same answer keeps its id
//   in logs on both sides) and shaped like Anthropic's.
// - Reasoning (`reasoning_content`, or `reasoning` in newer vLLM) becomes a thinking
//   block first, with an empty signature: the SDK's types want a string, nothing checks
//   it on the way in, and the encoder drops thinking blocks sent back.
// - Tool calls keep their backend ids (the client returns them as tool_use_id, the
//   encoder passes those back unchanged), and ids the backend left out are made from the
//   completion id and the call's index. Arguments that are not a JSON object (a call cut
//   by max_tokens, a model's slip) become input {}: the client's tool then reports the
//   missing parameters to the model, as it would for a bad call from Anthropic.
// - Stop reasons: length → max_tokens; tool_calls → tool_use, and also "stop" when the
//   answer has tool calls (vLLM says "stop" for calls forced by tool_choice, and Claude
//   Code runs tools only on tool_use); content_filter → refusal; a "stop" caused by one
//   of the client's stop sequences → stop_sequence when the backend says which (vLLM's
//   `stop_reason` field), else end_turn (OpenAI does not say).
// - Usage: Anthropic's input_tokens excludes cache reads, OpenAI's prompt_tokens
//   includes them: input_tokens = prompt - cached, cache_read_input_tokens = cached.

import { usageFromObject } from "../proxy/usage-parse.ts";
import type { DecodedResponse, EncodeContext, TranslatedUsage } from "./types.ts";
import { TranslationError } from "./types.ts";

type Json = Record<string, unknown>;

export type AnthropicStopReason = "end_turn" | "max_tokens" | "stop_sequence" | "tool_use" | "refusal";

export function isObj(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function stopReasonFor(finish: string | null, hasToolCalls: boolean, stopSequence: string | null): AnthropicStopReason {
  switch (finish) {
    case "length":
      return "max_tokens";
    case "tool_calls":
    case "function_call":
      return "tool_use";
    case "content_filter":
      return "refusal";
  }
  if (hasToolCalls) return "tool_use";
  return stopSequence !== null ? "stop_sequence" : "end_turn";
}

/** The stop sequence vLLM reports in a choice's `stop_reason` (a string when a stop string matched, a number for a stop token). */
export function matchedStop(choice: Json): string | null {
  const s = choice.stop_reason;
  return typeof s === "string" && s !== "" ? s : null;
}

export function translatedUsage(u: unknown): TranslatedUsage | null {
  const t = usageFromObject(u);
  return t ? { ...t, cacheWriteTokens: 0 } : null;
}

/** Anthropic's usage members (without braces) for gateway usage. */
export function anthropicUsageJson(u: TranslatedUsage): string {
  const cached = Math.min(u.cachedTokens, u.promptTokens);
  return `"input_tokens":${u.promptTokens - cached},"cache_creation_input_tokens":0,"cache_read_input_tokens":${cached},"output_tokens":${u.completionTokens}`;
}

/** The message id for a completion id; a backend that sent none gets a random one. */
export function messageId(completionId: unknown): string {
  return typeof completionId === "string" && completionId !== "" ? `msg_${completionId}` : `msg_${crypto.randomUUID().replaceAll("-", "")}`;
}

export function fallbackToolId(messageId: string, index: number): string {
  return `toolu_${messageId.slice(4)}_${index}`;
}

/** The reasoning text of a message or delta: `reasoning_content` (vLLM < 0.10, SGLang, DeepSeek) or `reasoning` (newer vLLM). */
export function reasoningOf(m: Json): string {
  const r = typeof m.reasoning_content === "string" ? m.reasoning_content : m.reasoning;
  return typeof r === "string" ? r : "";
}

function contentText(c: unknown): string {
  if (typeof c === "string") return c;
  // A few servers answer with content parts even without being sent any.
  if (Array.isArray(c)) return c.map((p) => (isObj(p) && typeof p.text === "string" ? p.text : "")).join("");
  return "";
}

function toolInput(args: unknown): unknown {
  if (isObj(args)) return args; // some servers send the object itself
  if (typeof args !== "string" || args.trim() === "") return {};
  try {
    const v: unknown = JSON.parse(args);
    return isObj(v) ? v : {};
  } catch {
    return {};
  }
}

/** A whole chat.completion answer as an Anthropic Message body. */
export function openAiResponseToAnthropic(text: string, ctx: EncodeContext): DecodedResponse {
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch {
    throw new TranslationError("the backend's answer is not JSON");
  }
  if (!isObj(obj)) throw new TranslationError("the backend's answer is not a JSON object");
  const choice = Array.isArray(obj.choices) ? obj.choices[0] : undefined;
  if (!isObj(choice) || !isObj(choice.message)) throw new TranslationError("the backend's answer has no choices[0].message");
  const msg = choice.message;
  const id = messageId(obj.id);

  const content: Json[] = [];
  const generated: string[] = [];
  const reasoning = reasoningOf(msg);
  if (reasoning !== "") {
    content.push({ type: "thinking", thinking: reasoning, signature: "" });
    generated.push(reasoning);
  }
  const answer = contentText(msg.content);
  // Empty text blocks are left out: Anthropic never sends one, and the API refuses them when the client sends the history back.
  if (answer !== "") {
    content.push({ type: "text", text: answer });
    generated.push(answer);
  }
  const refusal = typeof msg.refusal === "string" ? msg.refusal : "";
  if (refusal !== "") content.push({ type: "text", text: refusal });
  let calls = 0;
  if (Array.isArray(msg.tool_calls)) {
    for (const tc of msg.tool_calls) {
      if (!isObj(tc) || !isObj(tc.function)) continue;
      const fn = tc.function;
      const toolId = typeof tc.id === "string" && tc.id !== "" ? tc.id : fallbackToolId(id, calls);
      content.push({ type: "tool_use", id: toolId, name: typeof fn.name === "string" ? fn.name : "", input: toolInput(fn.arguments) });
      if (typeof fn.arguments === "string") generated.push(fn.arguments);
      calls++;
    }
  }

  const finish = typeof choice.finish_reason === "string" ? choice.finish_reason : null;
  const stopSeq = finish === "stop" ? matchedStop(choice) : null;
  const stop = refusal !== "" && calls === 0 ? "refusal" : stopReasonFor(finish, calls > 0, stopSeq);
  const usage = translatedUsage(obj.usage);
  const usageJson = usage ? anthropicUsageJson(usage) : `"input_tokens":0,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":0`;
  const body =
    `{"id":${JSON.stringify(id)},"type":"message","role":"assistant","model":${JSON.stringify(ctx.clientModel)},` +
    `"content":${JSON.stringify(content)},"stop_reason":"${stop}","stop_sequence":${stop === "stop_sequence" ? JSON.stringify(stopSeq) : "null"},` +
    `"usage":{${usageJson}}}`;
  return { body, usage, text: generated.join("\n") };
}
