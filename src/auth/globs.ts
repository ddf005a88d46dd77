// Model allowlists: "gpt-4o*", "llama-3-?b", "meta-llama/Meta-Llama-3-8B-Instruct".
// `*` is any run of characters (also none, also "/"), `?` exactly one character;
// everything else is literal ("." and "/" included), and the whole name must match.
//
// Not a RegExp: the model name comes from the client, and a pattern like "*a*a*a*b"
// makes a backtracking regex slow (polynomial) on a long crafted name. Splitting at `*`
// and placing each piece at its leftmost fit is exact for globs and never backtracks.

interface Pattern {
  /** Before the first `*`, after the last, and the pieces between; `?` inside each. */
  head: string;
  tail: string;
  middle: string[];
  star: boolean;
}

function compile(glob: string): Pattern {
  const pieces = glob.split("*");
  if (pieces.length === 1) return { head: glob, tail: "", middle: [], star: false };
  return { head: pieces[0] as string, tail: pieces[pieces.length - 1] as string, middle: pieces.slice(1, -1).filter((p) => p !== ""), star: true };
}

function fitsAt(piece: string, s: string, at: number): boolean {
  for (let i = 0; i < piece.length; i++) {
    const c = piece.charCodeAt(i);
    if (c !== 63 /* ? */ && c !== s.charCodeAt(at + i)) return false;
  }
  return true;
}

/** Leftmost position >= from where piece fits entirely before end; -1 when none. */
function find(piece: string, s: string, from: number, end: number): number {
  for (let at = from; at + piece.length <= end; at++) if (fitsAt(piece, s, at)) return at;
  return -1;
}

function matches(p: Pattern, s: string): boolean {
  if (!p.star) return s.length === p.head.length && fitsAt(p.head, s, 0);
  const end = s.length - p.tail.length;
  if (end < p.head.length || !fitsAt(p.head, s, 0) || !fitsAt(p.tail, s, end)) return false;
  let pos = p.head.length;
  for (const piece of p.middle) {
    const at = find(piece, s, pos, end);
    if (at < 0) return false;
    pos = at + piece.length;
  }
  return true;
}

/** Why s cannot be a model glob; null when it can. */
export function globProblem(s: string): string | null {
  if (s === "") return "a model pattern is empty";
  if (s.trim() !== s) return `model pattern "${s}" starts or ends with a space`;
  // control characters are never part of a model name; most likely a pasting accident
  if (/[\u0000-\u001f\u007f]/.test(s)) return `model pattern ${JSON.stringify(s)} contains a control character`;
  if (s.length > 256) return `model pattern "${s.slice(0, 20)}..." is longer than 256 characters`;
  return null;
}

/** The per-request check, built once per key; an empty list allows every model. */
export function compileModelGlobs(globs: readonly string[]): (model: string) => boolean {
  if (globs.length === 0) return () => true;
  const exact = new Set(globs.filter((g) => !g.includes("*") && !g.includes("?")));
  const patterns = globs.filter((g) => !exact.has(g)).map(compile);
  if (patterns.some((p) => p.star && p.head === "" && p.tail === "" && p.middle.length === 0)) return () => true;
  if (patterns.length === 0) return (model) => exact.has(model);
  return (model) => exact.has(model) || patterns.some((p) => matches(p, model));
}
