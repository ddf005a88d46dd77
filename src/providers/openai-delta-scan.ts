// Reads the chunks that make up almost all of an OpenAI chat-completions stream — one
// piece of text, or one fragment of a tool call's arguments — without JSON.parse: the
// piece's JSON string literal is taken as it is (escapes intact) and can go into an
// Anthropic event as it is, both sides using the same JSON string syntax. That saves a
// parse and a stringify per token (src/providers/anthropic-delta-scan.ts does the same
// for the opposite direction).
//
// The delta must have exactly one of these compact shapes (vLLM, SGLang, OpenAI,
// llama.cpp and Ollama write them so):
//   "delta":{"content":"..."}
//   "delta":{"tool_calls":[{"index":N,"function":{"arguments":"..."}}]}
// and the chunk must carry no finish_reason (other than null) and no usage object.
// Anything else (spaces after colons, more members in the delta, the first fragment of
// a call with its id and name) returns false and the caller parses the chunk, so the scan
// can only be faster, never different. Key patterns cannot match inside string values:
// their quotes would be escaped there.

const DELTA = '"delta":{"';
const CONTENT = 'content":"';
const TOOL = 'tool_calls":[{"index":';
const ARGS = ',"function":{"arguments":"';
const TOOL_END = "}}]}";

export interface OpenAiDeltaScan {
  kind: "content" | "arguments";
  /** tool_calls[0].index, for arguments. */
  toolIndex: number;
  /** The piece as a JSON string literal, quotes included. */
  literal: string;
}

/** Whether the quote at `q` is escaped (an odd number of backslashes before it). */
function escaped(s: string, q: number): boolean {
  let k = q - 1;
  while (s.charCodeAt(k) === 92 /* \ */) k--;
  return (q - 1 - k) % 2 === 1;
}

/** Reads `data` (one event's data) into `out` when it has one of the shapes above. */
export function scanOpenAiDelta(data: string, out: OpenAiDeltaScan): boolean {
  const d = data.indexOf(DELTA);
  if (d < 0) return false;
  let i = d + DELTA.length;
  let open: number;
  if (data.startsWith(CONTENT, i)) {
    out.kind = "content";
    open = i + CONTENT.length - 1;
  } else if (data.startsWith(TOOL, i)) {
    i += TOOL.length;
    const digits = i;
    let index = 0;
    for (let c = data.charCodeAt(i); c >= 48 && c <= 57; c = data.charCodeAt(++i)) index = index * 10 + c - 48;
    if (i === digits || i - digits > 6 || !data.startsWith(ARGS, i)) return false;
    out.kind = "arguments";
    out.toolIndex = index;
    open = i + ARGS.length - 1;
  } else return false;
  let q = data.indexOf('"', open + 1);
  while (q > 0 && escaped(data, q)) q = data.indexOf('"', q + 1);
  if (q < 0) return false;
  // the delta (and for arguments the call and the array) must end right after the literal
  if (out.kind === "content" ? data.charCodeAt(q + 1) !== 125 /* } */ : !data.startsWith(TOOL_END, q + 1)) return false;
  const f = data.indexOf('"finish_reason"');
  if (f >= 0 && !data.startsWith('"finish_reason":null', f)) return false;
  const u = data.indexOf('"usage"');
  if (u >= 0 && !data.startsWith('"usage":null', u)) return false;
  out.literal = data.slice(open, q + 1);
  return true;
}
