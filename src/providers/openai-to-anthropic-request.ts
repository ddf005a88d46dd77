// An OpenAI chat-completions request as an Anthropic Messages request (POST /v1/messages).
//
// Field policy (every OpenAI field falls in one group):
// - Translated: messages, max_completion_tokens / max_tokens, stop, temperature, top_p,
//   tools, tool_choice, parallel_tool_calls, response_format (json_schema), user /
//   safety_identifier, stream. The model is the route's upstream model.
// - Passed on under Anthropic's own name, as OpenAI SDK users send them with extra_body:
//   top_k, thinking, and cache_control on text and image parts and system text parts
//   (prompt-cache breakpoints, the way other OpenAI-style gateways to Claude accept them).
// - Refused with a 400 naming the field, because answering without them would break what
//   the client relies on: n > 1 (one answer only), logprobs / top_logprobs (Anthropic
//   has none), a non-empty logit_bias (token ids of another tokenizer), audio output,
//   web_search_options, the legacy functions / function_call (use tools).
// - Dropped, because they tune or label an answer without changing its contract:
//   stream_options (Anthropic streams always carry usage), frequency_penalty,
//   presence_penalty, seed, store, metadata (OpenAI's is for stored completions),
//   service_tier, reasoning_effort, verbosity, prediction, prompt_cache_key, and any
//   field this file does not name; in messages: `name`, an image's `detail` (Anthropic
//   sizes images itself), an assistant's `reasoning_content` (Anthropic accepts earlier
//   thinking only with its signature, which OpenAI clients do not keep).
//
// Decisions an operator may want to know:
// - max_tokens is required by Anthropic; without one from the client we send 4096, the
//   largest output every Claude model since Claude 3 accepts, so the default can never
//   be refused; a longer answer stops with finish_reason "length", which clients handle.
// - temperature: OpenAI's range is 0..2, Anthropic's 0..1. Values in 0..1 mean the same
//   on both and pass unchanged; above 1 is clamped to 1 (scaling would turn a tuned 0.7
//   into 0.35). top_p = 1 (the no-op value many clients send by default) is left out:
//   recent Claude models refuse temperature and top_p together.
// - response_format json_schema becomes output_config.format (Anthropic's structured
//   outputs), so the schema is enforced, not dropped; a model without structured outputs
//   refuses it with a 400 the client sees, which beats an answer that silently ignores
//   the schema. json_object has no Messages equivalent without a schema; OpenAI requires
//   the prompt itself to ask for JSON, so Claude is asked anyway: it is left out.
// - system and developer messages, at any position, go to `system` in their order.
// - Anthropic requires user/assistant alternation: consecutive messages of one role are
//   merged (tool results and a following user message become one user turn).
// - Tool call ids are kept; characters Anthropic refuses in ids (it allows
//   [a-zA-Z0-9_-]; some OpenAI-compatible servers use "functions.get:0") become "_", the
//   same way in the call and its result, so a conversation started on another backend
//   can fall back to Anthropic.
// - The last assistant message, when it is the final one (a prefill), loses trailing
//   whitespace, which Anthropic refuses there.

import { TranslationError, type EncodeContext, type EncodedRequest } from "./types.ts";

type Json = Record<string, unknown>;
type Block = Json;
interface Turn {
  role: "user" | "assistant";
  /** A string while the turn is one plain text message; blocks once anything else joins. */
  content: string | Block[];
}

/** Sent when the client gives no max_tokens (see the file comment). */
export const DEFAULT_MAX_TOKENS = 4096;
export const MESSAGES_PATH = "/v1/messages";

const BAD_ID_CHAR = /[^a-zA-Z0-9_-]/;
const BAD_ID_CHARS = /[^a-zA-Z0-9_-]/g;

function isObject(v: unknown): v is Json {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function present(v: unknown): boolean {
  return v !== undefined && v !== null;
}

function toolId(id: unknown, param: string): string {
  if (typeof id !== "string" || id === "") throw new TranslationError(`${param} must be a non-empty string`, param);
  return BAD_ID_CHAR.test(id) ? id.replace(BAD_ID_CHARS, "_") : id;
}

function textBlock(text: string, part: Json | null): Block {
  return part !== null && present(part.cache_control) ? { type: "text", text, cache_control: part.cache_control } : { type: "text", text };
}

/** `data:<media type>;base64,<data>` or an http(s) URL → an Anthropic image/document source. */
function source(url: unknown, param: string): Json {
  if (typeof url !== "string") throw new TranslationError(`${param} must be a string`, param);
  if (url.startsWith("data:")) {
    const comma = url.indexOf(",");
    const meta = comma < 0 ? "" : url.slice(5, comma);
    if (!meta.endsWith(";base64")) throw new TranslationError(`${param} must be a base64 data: URL (data:<type>;base64,...) or an http(s) URL`, param);
    return { type: "base64", media_type: meta.slice(0, -7), data: url.slice(comma + 1) };
  }
  if (url.startsWith("https://") || url.startsWith("http://")) return { type: "url", url };
  throw new TranslationError(`${param} must be a base64 data: URL or an http(s) URL`, param);
}

/** One OpenAI user/assistant content part as an Anthropic block; null for an empty text (Anthropic refuses those). */
function partBlock(part: unknown, param: string): Block | null {
  if (!isObject(part)) throw new TranslationError(`${param} must be an object`, param);
  switch (part.type) {
    case "text": {
      if (typeof part.text !== "string") throw new TranslationError(`${param}.text must be a string`, `${param}.text`);
      return part.text === "" ? null : textBlock(part.text, part);
    }
    case "refusal": // an earlier assistant refusal, sent back as what was said
      return typeof part.refusal === "string" && part.refusal !== "" ? { type: "text", text: part.refusal } : null;
    case "image_url": {
      const img = part.image_url;
      const url = isObject(img) ? img.url : img;
      const block: Block = { type: "image", source: source(url, `${param}.image_url.url`) };
      if (present(part.cache_control)) block.cache_control = part.cache_control;
      return block;
    }
    case "file": {
      const f = part.file;
      if (!isObject(f) || typeof f.file_data !== "string") {
        throw new TranslationError(`${param}: only inline files (file.file_data as a data: URL) can be sent to this model, not file ids`, param);
      }
      const src = source(f.file_data, `${param}.file.file_data`);
      if (src.media_type !== "application/pdf") throw new TranslationError(`${param}: this model takes PDF files only`, `${param}.file.file_data`);
      return { type: "document", source: src };
    }
    case "input_audio":
      throw new TranslationError(`${param}: this model takes no audio input`, param);
    default:
      throw new TranslationError(`${param}.type ${JSON.stringify(part.type)} is not supported for this model`, `${param}.type`);
  }
}

/** A message's content (string or parts) as blocks. */
function contentBlocks(content: unknown, param: string, out: Block[]): void {
  if (typeof content === "string") {
    if (content !== "") out.push({ type: "text", text: content });
    return;
  }
  if (!present(content)) return;
  if (!Array.isArray(content)) throw new TranslationError(`${param} must be a string or an array of parts`, param);
  for (let j = 0; j < content.length; j++) {
    const b = partBlock(content[j], `${param}[${j}]`);
    if (b !== null) out.push(b);
  }
}

/** System/developer content → text blocks (text parts only: a system prompt has no images). */
function systemBlocks(content: unknown, param: string, out: Block[]): void {
  if (typeof content === "string") {
    if (content !== "") out.push({ type: "text", text: content });
    return;
  }
  if (!Array.isArray(content)) throw new TranslationError(`${param} must be a string or an array of text parts`, param);
  for (let j = 0; j < content.length; j++) {
    const p = content[j];
    if (!isObject(p) || p.type !== "text" || typeof p.text !== "string") {
      throw new TranslationError(`${param}[${j}] must be a text part`, `${param}[${j}]`);
    }
    if (p.text !== "") out.push(textBlock(p.text, p));
  }
}

function toolInput(args: unknown, param: string): Json {
  // "" (and no arguments at all) is how some clients write a call without arguments
  if (!present(args) || args === "") return {};
  if (isObject(args)) return args;
  if (typeof args !== "string") throw new TranslationError(`${param} must be a JSON string`, param);
  let v: unknown;
  try {
    v = JSON.parse(args);
  } catch {
    throw new TranslationError(`${param} is not valid JSON: ${args.length > 200 ? args.slice(0, 200) + "..." : args}`, param);
  }
  if (!isObject(v)) throw new TranslationError(`${param} must be a JSON object`, param);
  return v;
}

function toolCallBlocks(calls: unknown, param: string, out: Block[]): void {
  if (!Array.isArray(calls)) throw new TranslationError(`${param} must be an array`, param);
  for (let j = 0; j < calls.length; j++) {
    const c = calls[j];
    const p = `${param}[${j}]`;
    if (!isObject(c) || !isObject(c.function)) throw new TranslationError(`${p} must be a function call`, p);
    const f = c.function;
    if (typeof f.name !== "string" || f.name === "") throw new TranslationError(`${p}.function.name must be a non-empty string`, `${p}.function.name`);
    out.push({ type: "tool_use", id: toolId(c.id, `${p}.id`), name: f.name, input: toolInput(f.arguments, `${p}.function.arguments`) });
  }
}

function toolResultBlock(m: Json, param: string): Block {
  const id = toolId(m.tool_call_id, `${param}.tool_call_id`);
  const c = m.content;
  if (typeof c === "string" || !present(c)) return { type: "tool_result", tool_use_id: id, content: c ?? "" };
  const blocks: Block[] = [];
  contentBlocks(c, `${param}.content`, blocks);
  return { type: "tool_result", tool_use_id: id, content: blocks };
}

/** Adds a turn, merging it into the previous one of the same role (Anthropic requires alternation). */
function addTurn(turns: Turn[], role: Turn["role"], blocks: Block[], plain: string | null): void {
  const last = turns[turns.length - 1];
  if (last === undefined || last.role !== role) {
    turns.push({ role, content: plain ?? blocks });
    return;
  }
  if (typeof last.content === "string") last.content = last.content === "" ? [] : [{ type: "text", text: last.content }];
  if (plain !== null) {
    if (plain !== "") last.content.push({ type: "text", text: plain });
  } else for (const b of blocks) last.content.push(b);
}

interface EncodedMessages {
  system: string | Block[] | null;
  messages: Turn[];
}

function encodeMessages(messages: unknown): EncodedMessages {
  if (!Array.isArray(messages)) throw new TranslationError("messages must be an array", "messages");
  const system: Block[] = [];
  const turns: Turn[] = [];
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i];
    const param = `messages[${i}]`;
    if (!isObject(m)) throw new TranslationError(`${param} must be an object`, param);
    switch (m.role) {
      case "system":
      case "developer":
        systemBlocks(m.content, `${param}.content`, system);
        break;
      case "user": {
        if (typeof m.content === "string") addTurn(turns, "user", [], m.content);
        else {
          const blocks: Block[] = [];
          contentBlocks(m.content, `${param}.content`, blocks);
          addTurn(turns, "user", blocks, null);
        }
        break;
      }
      case "assistant": {
        const hasCalls = Array.isArray(m.tool_calls) && m.tool_calls.length > 0;
        if (typeof m.content === "string" && !hasCalls) addTurn(turns, "assistant", [], m.content);
        else {
          const blocks: Block[] = [];
          contentBlocks(m.content, `${param}.content`, blocks);
          if (hasCalls) toolCallBlocks(m.tool_calls, `${param}.tool_calls`, blocks);
          addTurn(turns, "assistant", blocks, null);
        }
        break;
      }
      case "tool":
        addTurn(turns, "user", [toolResultBlock(m, param)], null);
        break;
      case "function":
        throw new TranslationError(`${param}: the legacy "function" role is not supported; use tools and "tool" messages`, `${param}.role`);
      default:
        throw new TranslationError(`${param}.role must be system, developer, user, assistant or tool`, `${param}.role`);
    }
  }
  if (turns.length === 0) throw new TranslationError("messages must hold at least one user or assistant message", "messages");
  trimPrefill(turns[turns.length - 1]!);
  const sys = system.length === 0 ? null : system.length === 1 && system[0]!.cache_control === undefined ? (system[0]!.text as string) : system;
  return { system: sys, messages: turns };
}

/** A final assistant turn is a prefill: Anthropic refuses one that ends in whitespace. */
function trimPrefill(t: Turn): void {
  if (t.role !== "assistant") return;
  if (typeof t.content === "string") {
    t.content = t.content.trimEnd();
    return;
  }
  const b = t.content[t.content.length - 1];
  if (b !== undefined && b.type === "text") b.text = (b.text as string).trimEnd();
}

function finiteNumber(body: Json, key: string): number | null {
  const v = body[key];
  if (!present(v)) return null;
  if (typeof v !== "number" || !Number.isFinite(v)) throw new TranslationError(`${key} must be a number`, key);
  return v;
}

function maxTokens(body: Json): number {
  const key = present(body.max_completion_tokens) ? "max_completion_tokens" : "max_tokens";
  const v = body[key];
  if (!present(v)) return DEFAULT_MAX_TOKENS;
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1) throw new TranslationError(`${key} must be a positive integer`, key);
  return v;
}

function stopSequences(stop: unknown): string[] | null {
  if (!present(stop)) return null;
  if (typeof stop === "string") return stop === "" ? null : [stop];
  if (!Array.isArray(stop) || !stop.every((s) => typeof s === "string")) throw new TranslationError("stop must be a string or an array of strings", "stop");
  const list = (stop as string[]).filter((s) => s !== "");
  return list.length === 0 ? null : list;
}

function encodeTools(tools: unknown): Json[] {
  if (!Array.isArray(tools)) throw new TranslationError("tools must be an array", "tools");
  const out: Json[] = [];
  for (let i = 0; i < tools.length; i++) {
    const t = tools[i];
    const param = `tools[${i}]`;
    if (!isObject(t) || t.type !== "function" || !isObject(t.function)) {
      throw new TranslationError(`${param}: only tools of type "function" are supported for this model`, `${param}.type`);
    }
    const f = t.function;
    if (typeof f.name !== "string" || f.name === "") throw new TranslationError(`${param}.function.name must be a non-empty string`, `${param}.function.name`);
    const params = f.parameters;
    // Anthropic requires an object schema; OpenAI allows leaving parameters out.
    const schema = isObject(params) ? (params.type === undefined ? { type: "object", ...params } : params) : { type: "object", properties: {} };
    const tool: Json = { name: f.name };
    if (typeof f.description === "string" && f.description !== "") tool.description = f.description;
    tool.input_schema = schema;
    if (f.strict === true) tool.strict = true;
    out.push(tool);
  }
  return out;
}

function encodeToolChoice(choice: unknown, parallel: unknown): Json {
  let out: Json;
  if (!present(choice) || choice === "auto") out = { type: "auto" };
  else if (choice === "none") return { type: "none" };
  else if (choice === "required") out = { type: "any" };
  else if (isObject(choice) && choice.type === "function" && isObject(choice.function) && typeof choice.function.name === "string") {
    out = { type: "tool", name: choice.function.name };
  } else throw new TranslationError('tool_choice must be "auto", "none", "required" or {"type":"function","function":{"name":...}}', "tool_choice");
  if (parallel === false) out.disable_parallel_tool_use = true;
  return out;
}

function outputFormat(rf: unknown): Json | null {
  if (!present(rf)) return null;
  if (!isObject(rf)) throw new TranslationError("response_format must be an object", "response_format");
  switch (rf.type) {
    case "text":
    case "json_object": // see the file comment
      return null;
    case "json_schema": {
      const js = rf.json_schema;
      if (!isObject(js) || !isObject(js.schema)) throw new TranslationError("response_format.json_schema.schema must be an object", "response_format.json_schema.schema");
      return { format: { type: "json_schema", schema: js.schema } };
    }
    default:
      throw new TranslationError('response_format.type must be "text", "json_object" or "json_schema"', "response_format.type");
  }
}

/** Fields whose meaning Anthropic cannot give the client (see the file comment). */
function refuseUnsupported(body: Json): void {
  const n = body.n;
  if (present(n) && n !== 1) throw new TranslationError("n: this model returns one choice per request; send n = 1 or leave it out", "n");
  if (present(body.logprobs) && body.logprobs !== false) throw new TranslationError("logprobs are not available for this model", "logprobs");
  if (present(body.top_logprobs) && body.top_logprobs !== 0) throw new TranslationError("logprobs are not available for this model", "top_logprobs");
  if (isObject(body.logit_bias) && Object.keys(body.logit_bias).length > 0) throw new TranslationError("logit_bias is not available for this model", "logit_bias");
  if (present(body.audio)) throw new TranslationError("audio output is not available for this model", "audio");
  if (Array.isArray(body.modalities) && body.modalities.some((m) => m !== "text")) throw new TranslationError("this model answers in text only", "modalities");
  if (present(body.web_search_options)) throw new TranslationError("web_search_options is not available for this model", "web_search_options");
  if (present(body.functions) || present(body.function_call)) {
    throw new TranslationError("functions and function_call are deprecated and not supported for this model; use tools and tool_choice", present(body.functions) ? "functions" : "function_call");
  }
}

export function encodeRequest(body: Json, ctx: EncodeContext): EncodedRequest {
  refuseUnsupported(body);
  const { system, messages } = encodeMessages(body.messages);
  const out: Json = { model: ctx.upstreamModel, max_tokens: maxTokens(body) };
  if (system !== null) out.system = system;
  out.messages = messages;
  const stop = stopSequences(body.stop);
  if (stop !== null) out.stop_sequences = stop;
  const temperature = finiteNumber(body, "temperature");
  if (temperature !== null) out.temperature = temperature < 0 ? 0 : temperature > 1 ? 1 : temperature;
  const topP = finiteNumber(body, "top_p");
  if (topP !== null && topP !== 1) out.top_p = topP;
  const topK = finiteNumber(body, "top_k");
  if (topK !== null) out.top_k = topK;
  if (present(body.thinking)) out.thinking = body.thinking;
  if (present(body.tools) && !(Array.isArray(body.tools) && body.tools.length === 0)) {
    out.tools = encodeTools(body.tools);
    // A tool_choice without tools means nothing to either API: it is only sent with them.
    if (present(body.tool_choice) || body.parallel_tool_calls === false) out.tool_choice = encodeToolChoice(body.tool_choice, body.parallel_tool_calls);
  }
  const format = outputFormat(body.response_format);
  if (format !== null) out.output_config = format;
  const user = typeof body.user === "string" && body.user !== "" ? body.user : body.safety_identifier;
  if (typeof user === "string" && user !== "") out.metadata = { user_id: user };
  if (ctx.stream) out.stream = true;
  return { path: MESSAGES_PATH, body: out };
}
