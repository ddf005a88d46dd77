// An Anthropic Messages request (POST /v1/messages) as an OpenAI chat-completions
// request, for OpenAI-compatible backends (vLLM, SGLang, llama.cpp, Ollama, OpenAI).
//
// What does not survive the trip, on purpose:
// - `thinking` (the switch and budget_tokens): chat completions has no standard field.
//   vLLM turns reasoning on and off per model through chat_template_kwargs whose name
//   differs by model family (enable_thinking, thinking, reasoning_effort), and a plain
//   OpenAI server rejects unknown fields; the operator sets it on the backend instead.
//   Thinking and redacted_thinking blocks in the history are dropped too: their
//   signatures mean nothing to another model, and templates re-render reasoning their
//   own way.
// - cache_control everywhere: OpenAI-compatible servers cache prefixes by themselves
//   (vLLM automatic prefix caching); cache reads still come back in usage.
// - Server tools (web_search, code_execution, ...) and mcp_servers are run by Anthropic;
//   a backend here cannot run them, so the request is refused (400) with the reason,
//   rather than answered without the tool the client counted on.
// - top_k is passed as `top_k`, which vLLM, SGLang and llama.cpp read (OpenAI rejects it;
//   clients talking to OpenAI itself do not send it through an Anthropic door anyway).
//
// Tool results: OpenAI wants each `tool` message right after the assistant message that
// made the calls, so a user turn's tool_result blocks become `tool` messages first, in
// order, and the turn's other content (text, images) follows as one user message.
// Tool-use ids pass unchanged both ways (the client sends them back as tool_use_id).

import type { EncodeContext, EncodedRequest } from "./types.ts";
import { TranslationError } from "./types.ts";

type Json = Record<string, unknown>;
type Part = { type: "text"; text: string } | { type: "image_url"; image_url: { url: string } };
interface ToolCall {
  id: string;
  type: "function";
  function: { name: string; arguments: string };
}
type ChatMessage =
  | { role: "system"; content: string }
  | { role: "user"; content: string | Part[] }
  | { role: "assistant"; content: string | null; tool_calls?: ToolCall[] }
  | { role: "tool"; tool_call_id: string; content: string };

function isObj(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function fail(message: string, param: string): never {
  throw new TranslationError(`${param}: ${message}`, param);
}

/** Text blocks joined: Anthropic's separate blocks read as paragraphs. */
const JOIN = "\n\n";

function textOf(v: unknown, param: string): string {
  if (typeof v !== "string") fail("text must be a string", param);
  return v;
}

function imagePart(b: Json, param: string): Part {
  const src = b.source;
  if (!isObj(src)) fail("an image needs a source", `${param}.source`);
  if (src.type === "base64") {
    if (typeof src.media_type !== "string" || typeof src.data !== "string") fail("a base64 image needs media_type and data", `${param}.source`);
    return { type: "image_url", image_url: { url: `data:${src.media_type};base64,${src.data}` } };
  }
  if (src.type === "url" && typeof src.url === "string") return { type: "image_url", image_url: { url: src.url } };
  fail(`image source "${String(src.type)}" cannot be sent to an OpenAI-compatible backend (use base64 or url)`, `${param}.source`);
}

/** A document or search result as text; PDFs and Files-API references have no chat-completions form. */
function documentText(b: Json, param: string, images: Part[]): string {
  const head = [b.title, b.context].filter((s): s is string => typeof s === "string" && s !== "");
  if (b.type === "search_result") {
    const body = Array.isArray(b.content) ? b.content.map((c, i) => (isObj(c) ? textOf(c.text, `${param}.content[${i}].text`) : "")) : [];
    return [...head, typeof b.source === "string" ? b.source : "", ...body].filter((s) => s !== "").join(JOIN);
  }
  const src = b.source;
  if (isObj(src) && src.type === "text" && typeof src.data === "string") return [...head, src.data].join(JOIN);
  if (isObj(src) && src.type === "content") {
    if (typeof src.content === "string") return [...head, src.content].join(JOIN);
    if (Array.isArray(src.content)) {
      const texts = [...head];
      src.content.forEach((c, i) => {
        const p = `${param}.source.content[${i}]`;
        if (isObj(c) && c.type === "text") texts.push(textOf(c.text, `${p}.text`));
        else if (isObj(c) && c.type === "image") images.push(imagePart(c, p));
        else fail("a content document holds text and image blocks only", p);
      });
      return texts.join(JOIN);
    }
  }
  const kind = isObj(src) ? String(src.type) : "missing";
  fail(`a document with source "${kind}" (PDF, URL or file) cannot be sent to an OpenAI-compatible backend; send its text`, `${param}.source`);
}

/** The text of a tool_result (its images go to `images`, for the user message that follows). */
function toolResultText(b: Json, param: string, images: Part[]): string {
  let text: string;
  const c = b.content;
  if (c === undefined || c === null) text = "";
  else if (typeof c === "string") text = c;
  else if (Array.isArray(c)) {
    const texts: string[] = [];
    let imageCount = 0;
    c.forEach((x, i) => {
      const p = `${param}.content[${i}]`;
      if (!isObj(x)) fail("a content block must be an object", p);
      if (x.type === "text") texts.push(textOf(x.text, `${p}.text`));
      else if (x.type === "image") {
        images.push(imagePart(x, p));
        imageCount++;
      } else if (x.type === "document" || x.type === "search_result") texts.push(documentText(x, p, images));
      else fail(`a tool result cannot hold a "${String(x.type)}" block`, p);
    });
    // Tool messages carry text only: say where the images went, so the model links them.
    if (imageCount > 0) texts.push(`(${imageCount === 1 ? "an image" : `${imageCount} images`} from this result follow in the next user message)`);
    text = texts.join(JOIN);
  } else fail("content must be a string or an array of blocks", `${param}.content`);
  return b.is_error === true ? (text === "" ? "Error" : `Error: ${text}`) : text;
}

class MessageList {
  readonly out: ChatMessage[] = [];

  system(content: string): void {
    if (content !== "") this.out.push({ role: "system", content });
  }

  tool(id: string, content: string): void {
    this.out.push({ role: "tool", tool_call_id: id, content });
  }

  /** A user message; one right after another user message joins it (Anthropic merges consecutive turns too). */
  user(parts: Part[]): void {
    if (parts.length === 0) return;
    const last = this.out[this.out.length - 1];
    if (last?.role === "user") {
      const prev: Part[] = typeof last.content === "string" ? [{ type: "text", text: last.content }] : last.content;
      parts = [...prev, ...parts];
      this.out.pop();
    }
    // Text-only content goes as a string: every server takes that, not all take part arrays.
    const textOnly = parts.every((p) => p.type === "text");
    const content = textOnly ? parts.map((p) => (p as { text: string }).text).join(JOIN) : parts;
    this.out.push({ role: "user", content });
  }

  assistant(texts: string[], calls: ToolCall[]): void {
    if (texts.length === 0 && calls.length === 0) return; // a turn of thinking only
    const last = this.out[this.out.length - 1];
    if (last?.role === "assistant") {
      if (last.content !== null) texts = [last.content, ...texts];
      if (last.tool_calls) calls = [...last.tool_calls, ...calls];
      this.out.pop();
    }
    const msg: ChatMessage = { role: "assistant", content: texts.length > 0 ? texts.join(JOIN) : null };
    if (calls.length > 0) msg.tool_calls = calls;
    this.out.push(msg);
  }
}

function systemText(v: unknown, param: string): string {
  if (typeof v === "string") return v;
  if (!Array.isArray(v)) fail("must be a string or an array of text blocks", param);
  return v
    .map((b, i) => {
      if (!isObj(b) || b.type !== "text") fail("system blocks must be text blocks", `${param}[${i}]`);
      return textOf(b.text, `${param}[${i}].text`);
    })
    .filter((t) => t !== "")
    .join(JOIN);
}

function userTurn(list: MessageList, content: unknown, param: string): void {
  if (typeof content === "string") return list.user(content === "" ? [] : [{ type: "text", text: content }]);
  if (!Array.isArray(content)) fail("content must be a string or an array of blocks", `${param}.content`);
  const parts: Part[] = [];
  content.forEach((b, j) => {
    const p = `${param}.content[${j}]`;
    if (!isObj(b)) fail("a content block must be an object", p);
    switch (b.type) {
      case "text": {
        const t = textOf(b.text, `${p}.text`);
        if (t !== "") parts.push({ type: "text", text: t });
        return;
      }
      case "image":
        parts.push(imagePart(b, p));
        return;
      case "document":
      case "search_result":
        parts.push({ type: "text", text: documentText(b, p, parts) });
        return;
      case "tool_result":
        if (typeof b.tool_use_id !== "string" || b.tool_use_id === "") fail("a tool_result needs its tool_use_id", `${p}.tool_use_id`);
        list.tool(b.tool_use_id, toolResultText(b, p, parts));
        return;
      case "thinking":
      case "redacted_thinking":
        return;
      default:
        fail(`a "${String(b.type)}" block cannot be sent to an OpenAI-compatible backend from a user message`, p);
    }
  });
  list.user(parts);
}

function assistantTurn(list: MessageList, content: unknown, param: string): void {
  if (typeof content === "string") return list.assistant(content === "" ? [] : [content], []);
  if (!Array.isArray(content)) fail("content must be a string or an array of blocks", `${param}.content`);
  const texts: string[] = [];
  const calls: ToolCall[] = [];
  content.forEach((b, j) => {
    const p = `${param}.content[${j}]`;
    if (!isObj(b)) fail("a content block must be an object", p);
    switch (b.type) {
      case "text": {
        const t = textOf(b.text, `${p}.text`);
        if (t !== "") texts.push(t);
        return;
      }
      case "tool_use":
        if (typeof b.id !== "string" || typeof b.name !== "string") fail("a tool_use needs an id and a name", p);
        calls.push({ id: b.id, type: "function", function: { name: b.name, arguments: JSON.stringify(b.input ?? {}) } });
        return;
      case "thinking":
      case "redacted_thinking":
        return; // see the file comment
      default:
        fail(`a "${String(b.type)}" block cannot be sent to an OpenAI-compatible backend from an assistant message`, p);
    }
  });
  list.assistant(texts, calls);
}

function tools(v: unknown): Json[] {
  if (!Array.isArray(v)) fail("must be an array", "tools");
  return v.map((t, i) => {
    if (!isObj(t)) fail(`tools[${i}] must be an object`, "tools");
    if (t.type !== undefined && t.type !== null && t.type !== "custom") {
      fail(
        `tools[${i}] ("${String(t.name)}", type ${String(t.type)}) is a server tool that Anthropic runs itself; an OpenAI-compatible backend cannot run it. Remove it, or route this model to an Anthropic backend`,
        "tools",
      );
    }
    if (typeof t.name !== "string" || t.name === "") fail(`tools[${i}] needs a name`, "tools");
    if (!isObj(t.input_schema)) fail(`tools[${i}] ("${t.name}") needs an input_schema object`, "tools");
    const fn: Json = { name: t.name };
    if (typeof t.description === "string") fn.description = t.description;
    fn.parameters = t.input_schema;
    if (t.strict === true) fn.strict = true;
    return { type: "function", function: fn };
  });
}

function toolChoice(v: Json, out: Json): void {
  switch (v.type) {
    case "auto":
      out.tool_choice = "auto";
      break;
    case "any":
      out.tool_choice = "required";
      break;
    case "none":
      out.tool_choice = "none";
      return;
    case "tool":
      if (typeof v.name !== "string") fail('a "tool" choice needs the tool\'s name', "tool_choice.name");
      out.tool_choice = { type: "function", function: { name: v.name } };
      break;
    default:
      fail(`unknown type "${String(v.type)}" (auto, any, tool or none)`, "tool_choice.type");
  }
  if (v.disable_parallel_tool_use === true) out.parallel_tool_calls = false;
}

/** The OpenAI chat-completions request for an Anthropic Messages body. */
export function anthropicRequestToOpenAi(body: Json, ctx: EncodeContext): EncodedRequest {
  const list = new MessageList();
  if (body.system !== undefined && body.system !== null) list.system(systemText(body.system, "system"));
  if (!Array.isArray(body.messages)) fail("must be an array", "messages");
  body.messages.forEach((m, i) => {
    const p = `messages[${i}]`;
    if (!isObj(m)) fail("a message must be an object", p);
    if (m.role === "user") userTurn(list, m.content, p);
    else if (m.role === "assistant") assistantTurn(list, m.content, p);
    // Newer API versions allow system messages between turns.
    else if (m.role === "system") list.system(systemText(m.content, `${p}.content`));
    else fail(`role must be "user" or "assistant", got ${JSON.stringify(m.role)}`, `${p}.role`);
  });

  const out: Json = { model: ctx.upstreamModel, messages: list.out };
  const mt = body.max_tokens;
  if (mt !== undefined) {
    // 0 (Anthropic's cache pre-warming) has no equivalent: OpenAI servers need at least 1.
    if (typeof mt !== "number" || !Number.isInteger(mt) || mt < 1) fail("must be a positive integer", "max_tokens");
    // max_tokens, not max_completion_tokens: vLLM, SGLang, llama.cpp and Ollama read it, and OpenAI still accepts it.
    out.max_tokens = mt;
  }
  if (body.stop_sequences !== undefined) {
    const s = body.stop_sequences;
    if (!Array.isArray(s) || !s.every((x) => typeof x === "string")) fail("must be an array of strings", "stop_sequences");
    if (s.length > 0) out.stop = s;
  }
  for (const k of ["temperature", "top_p", "top_k"] as const) {
    const v = body[k];
    if (v === undefined || v === null) continue;
    if (typeof v !== "number") fail("must be a number", k);
    out[k] = v;
  }
  if (isObj(body.metadata) && typeof body.metadata.user_id === "string") out.user = body.metadata.user_id;

  if (body.tools !== undefined && body.tools !== null) {
    const t = tools(body.tools);
    if (t.length > 0) out.tools = t;
  }
  if (Array.isArray(body.mcp_servers) && body.mcp_servers.length > 0) {
    fail("MCP servers are connected by Anthropic itself; an OpenAI-compatible backend cannot use them", "mcp_servers");
  }
  // OpenAI refuses tool_choice and parallel_tool_calls without tools.
  if (isObj(body.tool_choice) && out.tools) toolChoice(body.tool_choice, out);

  // Structured output: output_config.format (and the older beta output_format) is a JSON schema.
  const format = isObj(body.output_config) ? body.output_config.format : body.output_format;
  if (isObj(format) && format.type === "json_schema" && isObj(format.schema)) {
    out.response_format = { type: "json_schema", json_schema: { name: "output", schema: format.schema, strict: true } };
  }

  if (ctx.stream) {
    out.stream = true;
    // The Anthropic stream ends with usage (message_delta), so the backend must send it.
    out.stream_options = { include_usage: true };
  }
  return { path: "/v1/chat/completions", body: out };
}
