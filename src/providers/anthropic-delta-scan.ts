// Reads the events that make up almost all of an Anthropic stream — content_block_delta
// with a text, thinking or tool-input fragment — without JSON.parse: the fragment's JSON
// string literal is taken as it is (escapes intact) and can be put into OpenAI's JSON as
// it is, since both sides use the same JSON string syntax. That saves a parse and a
// stringify per token, the largest share of translating a stream.
//
// Only the exact shape Anthropic's API sends is read here:
//   {"type":"content_block_delta","index":N,"delta":{"type":"text_delta","text":"..."}}
// (same for thinking_delta/"thinking" and input_json_delta/"partial_json"). Anything else
// (other key order, spaces, extra members such as a citation) returns false and the
// caller parses the event as usual, so the scan can only be faster, never different.

const PREFIX = '{"type":"content_block_delta","index":';
const DELTA = ',"delta":{"type":"';
const TEXT = 'text_delta","text":"';
const THINKING = 'thinking_delta","thinking":"';
const INPUT_JSON = 'input_json_delta","partial_json":"';
const SUFFIX = '"}}';

export type DeltaKind = "text" | "thinking" | "input_json";

/** What scanDelta found; one instance per reader, overwritten by each call. */
export interface DeltaScan {
  kind: DeltaKind;
  index: number;
  /** The fragment as a JSON string literal, quotes included. */
  literal: string;
}

/** Whether the quote at `q` is escaped (an odd number of backslashes before it). */
function escaped(s: string, q: number): boolean {
  let k = q - 1;
  while (s.charCodeAt(k) === 92 /* \ */) k--;
  return (q - 1 - k) % 2 === 1;
}

/** Reads `data` (one event's data) into `out` when it has the exact shape above. */
export function scanDelta(data: string, out: DeltaScan): boolean {
  if (!data.startsWith(PREFIX) || !data.endsWith(SUFFIX)) return false;
  let i = PREFIX.length;
  const digits = i;
  let index = 0;
  for (let c = data.charCodeAt(i); c >= 48 && c <= 57; c = data.charCodeAt(++i)) index = index * 10 + c - 48;
  if (i === digits || i - digits > 9 || !data.startsWith(DELTA, i)) return false;
  i += DELTA.length;
  let kind: DeltaKind;
  if (data.startsWith(TEXT, i)) {
    kind = "text";
    i += TEXT.length;
  } else if (data.startsWith(INPUT_JSON, i)) {
    kind = "input_json";
    i += INPUT_JSON.length;
  } else if (data.startsWith(THINKING, i)) {
    kind = "thinking";
    i += THINKING.length;
  } else return false;
  // The literal opens at i - 1 and must close exactly at the suffix: every quote before
  // that one is escaped, or the value is not one string (e.g. more members follow).
  const close = data.length - SUFFIX.length;
  if (close < i) return false;
  for (let q = data.indexOf('"', i); q < close; q = data.indexOf('"', q + 1)) {
    if (!escaped(data, q)) return false;
  }
  if (escaped(data, close)) return false;
  // A raw line break is invalid JSON in a string; passed on, it would also end the
  // client's `data:` line. Such an event is left to JSON.parse (which refuses it).
  if (data.includes("\n") || data.includes("\r")) return false;
  out.kind = kind;
  out.index = index;
  out.literal = data.slice(i - 1, close + 1);
  return true;
}
