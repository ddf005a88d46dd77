// When a request offers tools, the fake model "calls" one instead of writing text, so
// tool-call passthrough (and its streamed argument fragments) can be tested.

import { isObject, type JsonObject } from "./endpoint.ts";
import { toolArgumentFragments } from "./text.ts";

export interface ToolCall {
  name: string;
  /** JSON-encoded name, ready for the templates. */
  nameJson: string;
  /** The argument fragments, one per completion token; joined they are a JSON object. */
  fragments: string[];
  /** The whole arguments text. */
  arguments: string;
}

/**
 * The property the arguments fill: the schema's first required property, else its first
 * property, else "text"; so {"location":"the quick"} satisfies a typical weather tool.
 */
function argumentKey(schema: unknown): string {
  if (!isObject(schema)) return "text";
  const required = schema.required;
  if (Array.isArray(required) && typeof required[0] === "string") return required[0];
  const props = schema.properties;
  if (isObject(props)) {
    for (const key in props) return key;
  }
  return "text";
}

function call(name: string, schema: unknown, tokens: number): ToolCall {
  const fragments = toolArgumentFragments(tokens, argumentKey(schema));
  return { name, nameJson: JSON.stringify(name), fragments, arguments: fragments.join("") };
}

/**
 * OpenAI: tools [{type:"function", function:{name, parameters}}]; tool_choice "none"
 * means text, a {type:"function", function:{name}} picks that tool, anything else
 * ("auto", "required", absent) the first one.
 */
export function openaiToolCall(body: JsonObject, tokens: number): ToolCall | null {
  const tools = body.tools;
  if (!Array.isArray(tools) || tools.length === 0 || body.tool_choice === "none") return null;
  const fns: JsonObject[] = [];
  for (const t of tools) if (isObject(t) && isObject(t.function) && typeof t.function.name === "string") fns.push(t.function);
  const first = fns[0];
  if (first === undefined) return null;
  const choice = body.tool_choice;
  const wanted = isObject(choice) && isObject(choice.function) ? choice.function.name : undefined;
  const fn = fns.find((f) => f.name === wanted) ?? first;
  return call(fn.name as string, fn.parameters, tokens);
}

/**
 * Anthropic: tools [{name, input_schema}]; tool_choice {type:"none"} means text,
 * {type:"tool", name} picks that tool, anything else ("auto", "any", absent) the first.
 */
export function anthropicToolCall(body: JsonObject, tokens: number): ToolCall | null {
  const tools = body.tools;
  if (!Array.isArray(tools) || tools.length === 0) return null;
  const choice = isObject(body.tool_choice) ? body.tool_choice : {};
  if (choice.type === "none") return null;
  const named: JsonObject[] = [];
  for (const t of tools) if (isObject(t) && typeof t.name === "string") named.push(t);
  const first = named[0];
  if (first === undefined) return null;
  const tool = (choice.type === "tool" ? named.find((t) => t.name === choice.name) : undefined) ?? first;
  return call(tool.name as string, tool.input_schema, tokens);
}

/**
 * Gemini: tools [{functionDeclarations: [{name, parameters}]}] (snake_case accepted too, as
 * the API does); toolConfig.functionCallingConfig mode NONE means text, the first of
 * allowedFunctionNames picks that function, anything else (AUTO, ANY, absent) the first.
 */
export function geminiToolCall(body: JsonObject, tokens: number): ToolCall | null {
  const tools = body.tools;
  if (!Array.isArray(tools)) return null;
  const fns: JsonObject[] = [];
  for (const t of tools) {
    if (!isObject(t)) continue;
    const decls = t.functionDeclarations ?? t.function_declarations;
    if (Array.isArray(decls)) for (const d of decls) if (isObject(d) && typeof d.name === "string") fns.push(d);
  }
  const first = fns[0];
  if (first === undefined) return null;
  const toolConfig = body.toolConfig ?? body.tool_config;
  const config = isObject(toolConfig) ? (toolConfig.functionCallingConfig ?? toolConfig.function_calling_config) : undefined;
  if (isObject(config) && config.mode === "NONE") return null;
  const allowed = isObject(config) ? (config.allowedFunctionNames ?? config.allowed_function_names) : undefined;
  const wanted = Array.isArray(allowed) ? allowed[0] : undefined;
  const fn = fns.find((f) => f.name === wanted) ?? first;
  return call(fn.name as string, fn.parameters ?? fn.parametersJsonSchema, tokens);
}
