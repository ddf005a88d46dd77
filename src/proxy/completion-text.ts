// The generated text of a JSON (non-stream) answer, for a token estimate when the
// backend reported no usage. Only ever called on that slow path.

import type { EstimateSource } from "./exchange.ts";

/** Characters kept for the estimate; a longer answer is extrapolated. */
const KEEP_CHARS = 16384;

function collect(v: unknown, out: string[]): void {
  if (!v || typeof v !== "object") return;
  if (Array.isArray(v)) {
    for (const x of v) collect(x, out);
    return;
  }
  const o = v as Record<string, unknown>;
  for (const key of ["content", "text", "reasoning_content", "arguments", "refusal"]) {
    const s = o[key];
    if (typeof s === "string") out.push(s);
  }
  for (const key of ["choices", "message", "tool_calls", "function", "output", "content"]) {
    const child = o[key];
    if (child && typeof child === "object") collect(child, out);
  }
}

export function completionText(json: string): EstimateSource {
  const parts: string[] = [];
  try {
    collect(JSON.parse(json), parts);
  } catch {
    // a truncated tail of a large answer: no estimate of its text
  }
  const all = parts.join("");
  const kept = all.slice(0, KEEP_CHARS);
  return { keptText: () => kept, coverage: () => (kept.length === 0 ? 1 : all.length / kept.length) };
}
