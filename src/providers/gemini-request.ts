// An OpenAI chat-completions request as a Gemini generateContent request (Gemini API
// reference: "Generating content", Content, Part, Tool, ToolConfig, GenerationConfig).
//
// Messages: system and developer messages become systemInstruction (all of them, in
// order: Gemini has one system instruction, not turns); user → role "user", assistant →
// role "model", tool results → functionResponse parts in a "user" turn. Consecutive turns
// of one role are merged, so the parallel results of one model turn travel together as
// Gemini wants them. A tool message names its call only by id; Gemini wants the function
// name, found in the assistant message that made the call.
//
// Parameters: temperature, top_p, top_k (not OpenAI's, but clients send it),
// max_completion_tokens / max_tokens, stop, n (candidateCount), seed, presence_penalty,
// frequency_penalty, response_format, reasoning_effort (as the thinking budgets Google's
// own OpenAI-compatible endpoint uses: low 1024, medium 8192, high 24576, none 0; OpenAI's
// minimal is taken as low).
//
// Media: data: URLs go inline (inlineData); http(s) and gs:// URLs go by reference
// (fileData), which Gemini reads for File API and YouTube URIs and, on recent models,
// public URLs; it refuses others itself, with a 400 the client sees.
// Ignored, having no Gemini equivalent that changes the answer: user, metadata, store,
// service_tier, parallel_tool_calls, stream_options, prompt_cache_key. Refused with a
// TranslationError (a 400 naming the field), because silently dropping them would answer
// something else than what was asked: logprobs, the deprecated functions/function_call,
// non-function tools, OpenAI file ids.

import { geminiSchema, isEmptyObjectSchema } from "./gemini-schema.ts";
import { signatureFromToolCallId } from "./gemini-tool-ids.ts";
import { TranslationError, type EncodeContext, type EncodedRequest } from "./types.ts";

type Json = Record<string, unknown>;

interface Turn {
  role: "user" | "model";
  parts: Json[];
}

/**
 * What a Gemini 3 model accepts in place of a thought signature for a function call it
 * did not make itself (history from another model, or a client that rebuilt the ids):
 * the value Google documents for that case ("Thought signatures", FAQ). Without one,
 * Gemini 3 refuses the whole request; earlier models ignore it.
 */
export const FOREIGN_THOUGHT_SIGNATURE = "skip_thought_signature_validator";

const THINKING_BUDGETS: Readonly<Record<string, number>> = { none: 0, minimal: 1024, low: 1024, medium: 8192, high: 24576 };

/** Extensions whose MIME type Gemini needs for a fileData part given by URL. */
const MIME_BY_EXTENSION: Readonly<Record<string, string>> = {
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  webp: "image/webp",
  gif: "image/gif",
  heic: "image/heic",
  heif: "image/heif",
  pdf: "application/pdf",
  mp3: "audio/mp3",
  wav: "audio/wav",
  mp4: "video/mp4",
};

function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The model's resource name: a configured "models/x" or "tunedModels/x" names it itself; a bare name is a base model. */
export function geminiModelName(model: string): string {
  return model.startsWith("models/") || model.startsWith("tunedModels/") ? model : `models/${model}`;
}

/** The same name in a URL path: the part after the collection URL-encoded. */
export function geminiResource(model: string): string {
  const name = geminiModelName(model);
  const slash = name.indexOf("/");
  return `${name.slice(0, slash)}/${encodeURIComponent(name.slice(slash + 1))}`;
}

/** The upstream path: /v1beta/models/{model}:generateContent or :streamGenerateContent?alt=sse. */
export function geminiPath(model: string, stream: boolean): string {
  return `/v1beta/${geminiResource(model)}:${stream ? "streamGenerateContent?alt=sse" : "generateContent"}`;
}

function optionalNumber(body: Json, key: string): number | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "number" || !Number.isFinite(v)) throw new TranslationError(`${key} must be a number`, key);
  return v;
}

/** A data: URL's MIME type and base64 payload, or null when it is not a base64 data URL. */
function parseDataUrl(url: string): { mimeType: string; data: string } | null {
  if (!url.startsWith("data:")) return null;
  // Sliced by hand: the payload can be megabytes, no regex needs to walk it.
  const comma = url.indexOf(",");
  if (comma < 0) return null;
  const header = url.slice(5, comma);
  if (!header.endsWith(";base64")) return null;
  const semi = header.indexOf(";");
  return { mimeType: header.slice(0, semi) || "application/octet-stream", data: url.slice(comma + 1) };
}

function mimeFromName(name: string): string | undefined {
  const q = name.search(/[?#]/);
  const path = q < 0 ? name : name.slice(0, q);
  const dot = path.lastIndexOf(".");
  return dot < 0 ? undefined : MIME_BY_EXTENSION[path.slice(dot + 1).toLowerCase()];
}

function mediaPart(url: string, param: string): Json {
  const inline = parseDataUrl(url);
  if (inline !== null) return { inlineData: inline };
  if (!/^(https?|gs):\/\//.test(url)) throw new TranslationError(`${param} must be an http(s) or data: URL`, param);
  const mimeType = mimeFromName(url);
  return { fileData: mimeType === undefined ? { fileUri: url } : { mimeType, fileUri: url } };
}

/** User content (a string or content parts) as Gemini parts. */
function userParts(content: unknown, param: string): Json[] {
  if (typeof content === "string") return content === "" ? [] : [{ text: content }];
  if (!Array.isArray(content)) throw new TranslationError(`${param} must be a string or an array of content parts`, param);
  const parts: Json[] = [];
  for (let j = 0; j < content.length; j++) {
    const p: unknown = content[j];
    const at = `${param}[${j}]`;
    if (!isObject(p)) throw new TranslationError(`${at} must be a content part object`, at);
    switch (p.type) {
      case "text":
        if (typeof p.text !== "string") throw new TranslationError(`${at}.text must be a string`, `${at}.text`);
        if (p.text !== "") parts.push({ text: p.text });
        break;
      case "image_url": {
        const iu = p.image_url;
        const url = typeof iu === "string" ? iu : isObject(iu) && typeof iu.url === "string" ? iu.url : null;
        if (url === null) throw new TranslationError(`${at}.image_url.url must be a string`, `${at}.image_url.url`);
        parts.push(mediaPart(url, `${at}.image_url.url`));
        break;
      }
      case "input_audio": {
        const a = p.input_audio;
        if (!isObject(a) || typeof a.data !== "string" || typeof a.format !== "string") {
          throw new TranslationError(`${at}.input_audio needs data and format`, `${at}.input_audio`);
        }
        parts.push({ inlineData: { mimeType: `audio/${a.format}`, data: a.data } });
        break;
      }
      case "file": {
        const f = p.file;
        if (!isObject(f)) throw new TranslationError(`${at}.file must be an object`, `${at}.file`);
        if (typeof f.file_data !== "string") {
          throw new TranslationError(`${at}.file: a Gemini backend cannot read OpenAI file ids; send the file as file_data`, `${at}.file`);
        }
        const inline = parseDataUrl(f.file_data);
        const mimeType = typeof f.filename === "string" ? mimeFromName(f.filename) : undefined;
        if (inline !== null) parts.push({ inlineData: inline });
        else if (mimeType !== undefined) parts.push({ inlineData: { mimeType, data: f.file_data } });
        else throw new TranslationError(`${at}.file.file_data must be a data: URL (or give a filename with a known extension)`, `${at}.file.file_data`);
        break;
      }
      default:
        throw new TranslationError(`${at}.type ${JSON.stringify(p.type)} cannot be sent to a Gemini backend`, `${at}.type`);
    }
  }
  return parts;
}

/** The text of system, assistant and tool content (a string or text parts; other parts are skipped). */
function textOf(content: unknown, param: string): string {
  if (content === null || content === undefined) return "";
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) throw new TranslationError(`${param} must be a string or an array of text parts`, param);
  let text = "";
  for (const p of content) {
    // refusal parts of an assistant message are not something to send back to a model
    if (isObject(p) && p.type === "text" && typeof p.text === "string") text += p.text;
  }
  return text;
}

/** A tool result as functionResponse.response, which must be a JSON object. */
function functionResponse(text: string): Json {
  // Gemini reads {"output": ...} (or {"error": ...}) as the result; a result that already
  // is a JSON object is given as it is, like Google's own SDKs do.
  const first = text.charCodeAt(0);
  if (first === 123 /* { */) {
    try {
      const v: unknown = JSON.parse(text);
      if (isObject(v)) return v;
    } catch {
      // not JSON after all: plain text
    }
  }
  return { output: text };
}

function assistantParts(m: Json, i: number, names: Map<string, string>): Json[] {
  const parts: Json[] = [];
  const text = textOf(m.content, `messages[${i}].content`);
  if (text !== "") parts.push({ text });
  if (m.tool_calls === undefined || m.tool_calls === null) return parts;
  if (!Array.isArray(m.tool_calls)) throw new TranslationError(`messages[${i}].tool_calls must be an array`, `messages[${i}].tool_calls`);
  let first = true;
  for (let k = 0; k < m.tool_calls.length; k++) {
    const tc: unknown = m.tool_calls[k];
    const at = `messages[${i}].tool_calls[${k}]`;
    if (!isObject(tc) || !isObject(tc.function) || typeof tc.function.name !== "string") {
      throw new TranslationError(`${at} must be a function call with a name`, at);
    }
    const raw = tc.function.arguments;
    let args: unknown = {};
    if (typeof raw === "string" && raw.trim() !== "") {
      try {
        args = JSON.parse(raw);
      } catch {
        args = null;
      }
    } else if (isObject(raw)) args = raw;
    if (!isObject(args)) throw new TranslationError(`${at}.function.arguments must be a JSON object (Gemini takes function arguments as an object)`, `${at}.function.arguments`);
    const id = typeof tc.id === "string" ? tc.id : "";
    if (id !== "") names.set(id, tc.function.name);
    const part: Json = { functionCall: { name: tc.function.name, args } };
    // Gemini validates the signature of the first call of a step only ("Thought signatures").
    const signature = signatureFromToolCallId(id) ?? (first ? FOREIGN_THOUGHT_SIGNATURE : null);
    if (signature !== null) part.thoughtSignature = signature;
    first = false;
    parts.push(part);
  }
  return parts;
}

function contentsOf(messages: unknown[]): { contents: Turn[]; system: Json[] } {
  const contents: Turn[] = [];
  const system: Json[] = [];
  const names = new Map<string, string>();
  const push = (role: Turn["role"], parts: Json[]): void => {
    // Gemini refuses a content without parts; an empty message adds nothing anyway.
    if (parts.length === 0) return;
    const last = contents[contents.length - 1];
    if (last !== undefined && last.role === role) last.parts.push(...parts);
    else contents.push({ role, parts });
  };
  for (let i = 0; i < messages.length; i++) {
    const m: unknown = messages[i];
    if (!isObject(m)) throw new TranslationError(`messages[${i}] must be an object`, `messages[${i}]`);
    switch (m.role) {
      case "system":
      case "developer": {
        const text = textOf(m.content, `messages[${i}].content`);
        if (text !== "") system.push({ text });
        break;
      }
      case "user":
        push("user", userParts(m.content, `messages[${i}].content`));
        break;
      case "assistant":
        push("model", assistantParts(m, i, names));
        break;
      case "tool": {
        const id = m.tool_call_id;
        const name = typeof id === "string" ? names.get(id) : undefined;
        if (name === undefined) {
          throw new TranslationError(`messages[${i}].tool_call_id ${JSON.stringify(id)} names no tool call of an earlier assistant message`, `messages[${i}].tool_call_id`);
        }
        push("user", [{ functionResponse: { name, response: functionResponse(textOf(m.content, `messages[${i}].content`)) } }]);
        break;
      }
      case "function":
        throw new TranslationError(`messages[${i}]: role "function" (deprecated) is not supported with a Gemini backend; use tools and role "tool"`, `messages[${i}].role`);
      default:
        throw new TranslationError(`messages[${i}].role ${JSON.stringify(m.role)} is not a chat role`, `messages[${i}].role`);
    }
  }
  return { contents, system };
}

function declarations(tools: unknown[], only: Set<string> | null): Json[] {
  const out: Json[] = [];
  for (let i = 0; i < tools.length; i++) {
    const t: unknown = tools[i];
    if (!isObject(t) || t.type !== "function" || !isObject(t.function) || typeof t.function.name !== "string") {
      const type = isObject(t) ? JSON.stringify(t.type) : "";
      throw new TranslationError(`tools[${i}]: only function tools can be sent to a Gemini backend${type ? `, got type ${type}` : ""}`, `tools[${i}]`);
    }
    const fn = t.function;
    if (only !== null && !only.has(fn.name as string)) continue;
    const d: Json = { name: fn.name };
    if (typeof fn.description === "string") d.description = fn.description;
    if (fn.parameters !== undefined && fn.parameters !== null) {
      const params = geminiSchema(fn.parameters);
      // Gemini refuses an OBJECT without properties; a function without parameters leaves them out.
      if (!isEmptyObjectSchema(params) && Object.keys(params).length > 0) d.parameters = params;
    }
    out.push(d);
  }
  return out;
}

function choiceNames(list: unknown, param: string): Set<string> {
  const names = new Set<string>();
  if (!Array.isArray(list)) throw new TranslationError(`${param} must be an array`, param);
  for (const t of list) {
    if (isObject(t) && isObject(t.function) && typeof t.function.name === "string") names.add(t.function.name);
    else if (isObject(t) && typeof t.name === "string") names.add(t.name);
  }
  return names;
}

function toolsAndConfig(body: Json, out: Json): void {
  const tools = body.tools;
  if (body.functions !== undefined || body.function_call !== undefined) {
    throw new TranslationError("functions and function_call are deprecated and not supported with a Gemini backend; use tools and tool_choice", "functions");
  }
  if (tools === undefined || tools === null) return;
  if (!Array.isArray(tools)) throw new TranslationError("tools must be an array", "tools");
  const choice = body.tool_choice;
  let mode: string | null = null;
  let allowed: string[] | null = null;
  let only: Set<string> | null = null;
  if (choice === "none") mode = "NONE";
  else if (choice === "auto") mode = "AUTO";
  else if (choice === "required") mode = "ANY";
  else if (isObject(choice) && choice.type === "function") {
    const name = isObject(choice.function) ? choice.function.name : undefined;
    if (typeof name !== "string") throw new TranslationError("tool_choice.function.name must be a string", "tool_choice.function.name");
    mode = "ANY";
    allowed = [name];
  } else if (isObject(choice) && choice.type === "allowed_tools" && isObject(choice.allowed_tools)) {
    // allowedFunctionNames applies to mode ANY only, so the restriction is made by
    // declaring only the allowed functions; the mode says whether one must be called.
    only = choiceNames(choice.allowed_tools.tools, "tool_choice.allowed_tools.tools");
    mode = choice.allowed_tools.mode === "required" ? "ANY" : "AUTO";
  } else if (choice !== undefined && choice !== null) {
    throw new TranslationError(`tool_choice ${JSON.stringify(choice)} is not understood`, "tool_choice");
  }
  const decls = declarations(tools, only);
  if (decls.length === 0) return;
  out.tools = [{ functionDeclarations: decls }];
  if (mode !== null) out.toolConfig = { functionCallingConfig: allowed === null ? { mode } : { mode, allowedFunctionNames: allowed } };
}

function generationConfig(body: Json): Json {
  const g: Json = {};
  const temperature = optionalNumber(body, "temperature");
  if (temperature !== undefined) g.temperature = temperature;
  const topP = optionalNumber(body, "top_p");
  if (topP !== undefined) g.topP = topP;
  const topK = optionalNumber(body, "top_k");
  if (topK !== undefined) g.topK = topK;
  const max = optionalNumber(body, "max_completion_tokens") ?? optionalNumber(body, "max_tokens");
  if (max !== undefined) g.maxOutputTokens = max;
  const stop = body.stop;
  if (typeof stop === "string") g.stopSequences = [stop];
  else if (Array.isArray(stop) && stop.every((s) => typeof s === "string")) {
    if (stop.length > 0) g.stopSequences = stop;
  } else if (stop !== undefined && stop !== null) throw new TranslationError("stop must be a string or an array of strings", "stop");
  const n = optionalNumber(body, "n");
  if (n !== undefined && n !== 1) g.candidateCount = n;
  const seed = optionalNumber(body, "seed");
  if (seed !== undefined) g.seed = seed;
  const presence = optionalNumber(body, "presence_penalty");
  if (presence !== undefined) g.presencePenalty = presence;
  const frequency = optionalNumber(body, "frequency_penalty");
  if (frequency !== undefined) g.frequencyPenalty = frequency;

  const rf = body.response_format;
  if (isObject(rf)) {
    if (rf.type === "json_object") g.responseMimeType = "application/json";
    else if (rf.type === "json_schema") {
      g.responseMimeType = "application/json";
      const js = rf.json_schema;
      if (isObject(js) && isObject(js.schema)) g.responseSchema = geminiSchema(js.schema);
    } else if (rf.type !== "text") throw new TranslationError(`response_format.type ${JSON.stringify(rf.type)} is not understood`, "response_format.type");
  } else if (rf !== undefined && rf !== null) throw new TranslationError("response_format must be an object", "response_format");

  const effort = body.reasoning_effort;
  if (typeof effort === "string") {
    const budget = THINKING_BUDGETS[effort];
    if (budget === undefined) throw new TranslationError(`reasoning_effort ${JSON.stringify(effort)} is not one of none, minimal, low, medium, high`, "reasoning_effort");
    g.thinkingConfig = { thinkingBudget: budget };
  }
  if (body.logprobs === true) {
    throw new TranslationError("logprobs are not supported with a Gemini backend", "logprobs");
  }
  return g;
}

/** The Gemini request for an OpenAI chat-completions body (already checked to have model and messages). */
export function encodeGeminiRequest(body: Json, ctx: EncodeContext): EncodedRequest {
  const messages = body.messages;
  if (!Array.isArray(messages)) throw new TranslationError("messages must be an array", "messages");
  const { contents, system } = contentsOf(messages);
  if (contents.length === 0) throw new TranslationError("messages needs at least one user or assistant message besides system messages", "messages");
  const out: Json = { contents };
  if (system.length > 0) out.systemInstruction = { parts: system };
  toolsAndConfig(body, out);
  const g = generationConfig(body);
  if (Object.keys(g).length > 0) out.generationConfig = g;
  return { path: geminiPath(ctx.upstreamModel, ctx.stream), body: out };
}
