// Edits of a JSON request body that leave every other byte as the client sent it.
// Re-serializing (JSON.stringify(JSON.parse(body))) would change numbers (1.0 -> 1,
// big integers lose precision), key order and escapes; the backend must see the
// client's body untouched except for the one member the gateway rewrites.
// The text is always valid JSON here (it was JSON.parse'd first), so the scanner only
// tracks strings and nesting.

const QUOTE = 34; // "
const BACKSLASH = 92;
const LBRACE = 123;
const RBRACE = 125;
const LBRACKET = 91;
const RBRACKET = 93;
const COLON = 58;
const COMMA = 44;

/** Index just past the string that starts at `i` (text[i] === '"'). */
function skipString(text: string, i: number): number {
  let j = i + 1;
  for (;;) {
    const q = text.indexOf('"', j);
    if (q < 0) return text.length;
    // an odd run of backslashes before the quote escapes it
    let b = q - 1;
    while (b > i && text.charCodeAt(b) === BACKSLASH) b--;
    if ((q - 1 - b) % 2 === 0) return q + 1;
    j = q + 1;
  }
}

function skipWs(text: string, i: number): number {
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c !== 32 && c !== 9 && c !== 10 && c !== 13) break;
    i++;
  }
  return i;
}

/** Index just past the value that starts at `i`. */
function skipValue(text: string, i: number): number {
  const c = text.charCodeAt(i);
  if (c === QUOTE) return skipString(text, i);
  if (c === LBRACE || c === LBRACKET) {
    let depth = 0;
    let j = i;
    while (j < text.length) {
      const d = text.charCodeAt(j);
      if (d === QUOTE) {
        j = skipString(text, j);
        continue;
      }
      if (d === LBRACE || d === LBRACKET) depth++;
      else if (d === RBRACE || d === RBRACKET) {
        depth--;
        if (depth === 0) return j + 1;
      }
      j++;
    }
    return j;
  }
  // number, true, false, null: up to the next delimiter
  let j = i;
  while (j < text.length) {
    const d = text.charCodeAt(j);
    if (d === COMMA || d === RBRACE || d === RBRACKET || d === 32 || d === 9 || d === 10 || d === 13) break;
    j++;
  }
  return j;
}

export interface MemberSpan {
  /** Index of the member's key (its opening quote). */
  keyStart: number;
  valueStart: number;
  valueEnd: number;
}

/**
 * Where the value of a top-level member sits. With duplicate keys the last one wins,
 * as in JSON.parse (and Python's json, which most backends use).
 */
export function findTopLevelMember(text: string, key: string): MemberSpan | null {
  let i = skipWs(text, 0);
  if (text.charCodeAt(i) !== LBRACE) return null;
  i++;
  let found: MemberSpan | null = null;
  for (;;) {
    i = skipWs(text, i);
    if (i >= text.length || text.charCodeAt(i) === RBRACE) return found;
    if (text.charCodeAt(i) !== QUOTE) return found;
    const keyStart = i;
    const keyEnd = skipString(text, i);
    i = skipWs(text, keyEnd);
    if (text.charCodeAt(i) !== COLON) return found;
    const valueStart = skipWs(text, i + 1);
    const valueEnd = skipValue(text, valueStart);
    // Compare decoded keys only when the raw key could be an escaped spelling of it.
    const raw = text.slice(keyStart + 1, keyEnd - 1);
    if (raw === key || (raw.includes("\\") && JSON.parse(text.slice(keyStart, keyEnd)) === key)) {
      found = { keyStart, valueStart, valueEnd };
    }
    i = skipWs(text, valueEnd);
    if (text.charCodeAt(i) === COMMA) i++;
  }
}

/** Replace the value of a top-level member (which must exist) with `valueJson`. */
export function replaceTopLevelValue(text: string, span: MemberSpan, valueJson: string): string {
  return text.slice(0, span.valueStart) + valueJson + text.slice(span.valueEnd);
}

/** Add a member at the start of the top-level object (the body has no such key yet). */
export function prependTopLevelMember(text: string, key: string, valueJson: string): string {
  const open = text.indexOf("{");
  const rest = skipWs(text, open + 1);
  const empty = text.charCodeAt(rest) === RBRACE;
  return text.slice(0, open + 1) + JSON.stringify(key) + ":" + valueJson + (empty ? "" : ",") + text.slice(open + 1);
}
