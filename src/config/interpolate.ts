// ${VAR} and ${VAR:-default} in the config, replaced from the environment.
//
// How, and why this way: a plain text substitution before parsing would (a) let a value
// change the YAML structure (an api_key containing " #" would be cut at the comment, one
// starting with "*" or "&" would be a YAML error, one with a newline could add keys), and
// (b) report missing variables inside comments. Substituting parsed scalars instead
// fails on `{ secret: ${SECRET} }`, because "{" cannot appear in a plain scalar inside a
// flow map. So each reference is first replaced in the text by a placeholder of exactly
// the same length made of private-use characters (valid in any plain or quoted
// scalar); the YAML is parsed, so every position reported is a position in the file as
// written; then the placeholders found in scalar values (never in comments, which the
// parser dropped) are replaced by the variables' values, taken verbatim.
//
// Semantics, as in a shell: ${VAR:-default} uses the default when VAR is unset or empty;
// ${VAR} with VAR unset is an error; $${ is a literal "${". A value is inserted once and
// never interpolated again. A plain (unquoted) scalar that, after substitution, reads as
// a YAML number or boolean becomes one (`weight: ${W:-2}` is the integer 2); an empty
// result stays "" rather than YAML's null, so `admin_token: ${TOKEN:-}` is valid.

export interface VarRef {
  /** Offset of the "$" in the text. */
  offset: number;
  length: number;
  name: string;
  /** The text after ":-", or undefined when there is none. */
  fallback: string | undefined;
}

export interface MaskedText {
  text: string;
  refs: VarRef[];
}

// A placeholder: U+E000, two characters naming the reference's index (U+E100 + 8 bits
// each), then U+E001 up to the reference's length (always ≥ 4: "${X}").
const START = "\uE000";
const FILL = "\uE001";
const DIGIT0 = 0xe100;
const MAX_REFS = 1 << 16;
const PLACEHOLDER_RE = /\uE000([\uE100-\uE1FF])([\uE100-\uE1FF])\uE001+/g;
// "$${" → three U+E002, turned into "${" after parsing.
const ESCAPE = "\uE002\uE002\uE002";
const ESCAPE_RE = /\uE002\uE002\uE002/g;

const REF_RE = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}\r\n]*))?\}/g;

/** Replace each ${...} and $${ by a placeholder of the same length. */
export function maskVariables(text: string): MaskedText {
  const refs: VarRef[] = [];
  const masked = text.replace(REF_RE, (match: string, name: string | undefined, fallback: string | undefined, offset: number) => {
    if (name === undefined) return ESCAPE;
    if (refs.length >= MAX_REFS) return match;
    const i = refs.length;
    refs.push({ offset, length: match.length, name, fallback });
    return START + String.fromCharCode(DIGIT0 + (i >> 8), DIGIT0 + (i & 0xff)) + FILL.repeat(match.length - 3);
  });
  return { text: masked, refs };
}

export interface Substituted {
  value: string;
  /** References whose variable is unset and which have no default. */
  missing: VarRef[];
  /** The value holds a "${" that is not a valid reference (e.g. "${1X}", no closing "}"). */
  malformed: boolean;
  /** At least one placeholder was replaced. */
  changed: boolean;
}

/** Replace the placeholders in one scalar value. */
export function substitute(value: string, refs: readonly VarRef[], env: Record<string, string | undefined>): Substituted {
  const malformed = value.includes("${");
  const missing: VarRef[] = [];
  let changed = false;
  const out = value
    .replace(PLACEHOLDER_RE, (match, hi: string, lo: string) => {
      const ref = refs[((hi.charCodeAt(0) - DIGIT0) << 8) | (lo.charCodeAt(0) - DIGIT0)];
      if (!ref) return match;
      changed = true;
      const v = env[ref.name];
      if (ref.fallback !== undefined) return v === undefined || v === "" ? ref.fallback : v;
      if (v === undefined) {
        missing.push(ref);
        return "";
      }
      return v;
    })
    .replace(ESCAPE_RE, () => {
      changed = true;
      return "${";
    });
  return { value: out, missing, malformed, changed };
}

/** Whether a scalar value holds a placeholder (a cheap test before substitute()). */
export function hasPlaceholder(value: string): boolean {
  return value.includes(START) || value.includes("\uE002");
}

// YAML 1.2 core schema, for plain scalars whose text came (partly) from the environment.
const NULL_RE = /^(?:~|null|Null|NULL)$/;
const TRUE_RE = /^(?:true|True|TRUE)$/;
const FALSE_RE = /^(?:false|False|FALSE)$/;
const INT_RE = /^[-+]?[0-9]+$/;
const OCT_RE = /^0o[0-7]+$/;
const HEX_RE = /^0x[0-9a-fA-F]+$/;
const FLOAT_RE = /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$/;

/** What a YAML parser would make of s as a plain scalar; "" stays "" (see above). */
export function resolvePlainScalar(s: string): string | number | boolean | null {
  if (s === "") return "";
  if (NULL_RE.test(s)) return null;
  if (TRUE_RE.test(s)) return true;
  if (FALSE_RE.test(s)) return false;
  if (INT_RE.test(s)) return Number.parseInt(s, 10);
  if (OCT_RE.test(s)) return Number.parseInt(s.slice(2), 8);
  if (HEX_RE.test(s)) return Number.parseInt(s.slice(2), 16);
  if (FLOAT_RE.test(s)) return Number.parseFloat(s);
  return s;
}

export function missingVariableMessage(ref: VarRef): string {
  return `environment variable ${ref.name} is not set (use \${${ref.name}:-default} for a default)`;
}

export const MALFORMED_MESSAGE = 'bad variable reference: use ${NAME} or ${NAME:-default} (NAME: letters, digits, _), or $${ for a literal "${"';
