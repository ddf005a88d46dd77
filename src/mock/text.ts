// The fake model's "language": a fixed cycle of words, so the text of N tokens and the
// token counts of any request are known in advance. Tests compute expected answers
// with mockCompletionText() and countPromptTokens() instead of hard-coding them.

const WORDS = ["the", "quick", "brown", "fox", "jumps", "over", "the", "lazy", "dog", "and", "runs", "far", "into", "a", "green", "field"] as const;

/** Token i of every answer: the words in a cycle, each after a space except the first. */
export function mockToken(i: number): string {
  const word = WORDS[i % WORDS.length] as string;
  return i === 0 ? word : " " + word;
}

/** The exact text of an answer of n tokens: "the quick brown fox ...". */
export function mockCompletionText(n: number): string {
  let text = "";
  for (let i = 0; i < n; i++) text += mockToken(i);
  return text;
}

// The words are plain ASCII, so a token's JSON form is the token in quotes; kept ready
// so a stream writes one precomputed string per token.
const TOKEN_JSON: readonly string[] = WORDS.map((_, i) => JSON.stringify(mockToken(i === 0 ? WORDS.length : i)));
const FIRST_TOKEN_JSON = JSON.stringify(mockToken(0));

/** JSON string literal of token i (quotes included). */
export function mockTokenJson(i: number): string {
  return i === 0 ? FIRST_TOKEN_JSON : (TOKEN_JSON[i % WORDS.length] as string);
}

// Answers mostly repeat the same few lengths (the configured token count), so their
// JSON text is built once per length. Bounded so odd lengths cannot grow it forever.
const textJsonCache = new Map<number, string>();
const TEXT_CACHE_MAX = 256;

/** JSON string literal of mockCompletionText(n). */
export function mockCompletionTextJson(n: number): string {
  let json = textJsonCache.get(n);
  if (json === undefined) {
    json = JSON.stringify(mockCompletionText(n));
    if (textJsonCache.size < TEXT_CACHE_MAX) textJsonCache.set(n, json);
  }
  return json;
}

/**
 * A tool call's arguments as the fragments a model streams: one fragment per token,
 * which together are the JSON object {"<key>":"<mockCompletionText(n)>"}. n=0 still
 * gives one fragment, "{}", because empty arguments are not JSON and clients parse them.
 */
export function toolArgumentFragments(n: number, key: string): string[] {
  if (n === 0) return ["{}"];
  const frags: string[] = [];
  for (let i = 0; i < n; i++) frags.push(mockToken(i));
  frags[0] = `{${JSON.stringify(key)}:"${frags[0]}`;
  frags[n - 1] += `"}`;
  return frags;
}

/** Number of whitespace-separated words in s. */
export function countWords(s: string): number {
  let words = 0;
  let inWord = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    // space, \t \n \v \f \r: the whitespace that separates words in prompts.
    const space = c === 32 || (c >= 9 && c <= 13);
    if (!space && !inWord) words++;
    inWord = !space;
  }
  return words;
}

/** Words in a message content: a string, or content parts with text (images count 0). */
function contentWords(content: unknown): number {
  if (typeof content === "string") return countWords(content);
  if (!Array.isArray(content)) return 0;
  let n = 0;
  for (const part of content) {
    if (typeof part === "string") n += countWords(part);
    else if (part !== null && typeof part === "object") {
      const p = part as Record<string, unknown>;
      if (typeof p.text === "string") n += countWords(p.text);
      // Anthropic tool_result blocks carry their text in a nested content.
      if (p.content !== undefined) n += contentWords(p.content);
    }
  }
  return n;
}

/** A prompt/input: string | string[] (words) or number[] | number[][] (already tokens). */
function promptTokens(prompt: unknown): number {
  if (typeof prompt === "string") return countWords(prompt);
  if (!Array.isArray(prompt)) return 0;
  let n = 0;
  for (const item of prompt) {
    if (typeof item === "string") n += countWords(item);
    else if (typeof item === "number") n += 1;
    else if (Array.isArray(item)) n += item.length;
  }
  return n;
}

/** Per-message overhead, like the role and separator tokens of a real chat template. */
const MESSAGE_OVERHEAD = 3;

function messagesTokens(messages: unknown): number {
  if (!Array.isArray(messages)) return 0;
  let n = 0;
  for (const m of messages) {
    n += MESSAGE_OVERHEAD;
    if (m !== null && typeof m === "object") n += contentWords((m as Record<string, unknown>).content);
  }
  return n;
}

export type MockEndpointKind = "chat" | "completions" | "embeddings" | "responses" | "messages" | "gemini";

/** Gemini contents: per content, words of its text parts + 3 (functionCall/functionResponse and media parts count 0). */
function geminiContentsTokens(contents: unknown): number {
  if (!Array.isArray(contents)) return 0;
  let n = 0;
  for (const c of contents) {
    n += MESSAGE_OVERHEAD;
    if (c !== null && typeof c === "object") n += contentWords((c as Record<string, unknown>).parts);
  }
  return n;
}

/**
 * The prompt tokens the mock reports for a request body, the one definition of it:
 * - chat (/v1/chat/completions): per message, words of its content (string or text
 *   parts) + 3.
 * - completions, embeddings: words of each string in `prompt`/`input`; a token array
 *   (number[] or number[][]) counts its numbers.
 * - responses: `input` as a string counts as one message (words + 3), as an array each
 *   item is a message; `instructions`, when given, is one more message.
 * - messages (Anthropic, also count_tokens): like chat, plus `system` (string or text
 *   blocks) as one more message when given.
 * - gemini (generateContent, countTokens): per content, words of its text parts + 3, plus
 *   `systemInstruction` as one more content when given.
 * Anything else in the body (tools, images, parameters) counts 0.
 */
export function countPromptTokens(kind: MockEndpointKind, body: Record<string, unknown>): number {
  switch (kind) {
    case "chat":
      return messagesTokens(body.messages);
    case "completions":
      return promptTokens(body.prompt);
    case "embeddings":
      return promptTokens(body.input);
    case "responses": {
      let n = typeof body.instructions === "string" ? countWords(body.instructions) + MESSAGE_OVERHEAD : 0;
      if (typeof body.input === "string") n += countWords(body.input) + MESSAGE_OVERHEAD;
      else n += messagesTokens(body.input);
      return n;
    }
    case "messages": {
      const system = body.system === undefined ? 0 : contentWords(body.system) + MESSAGE_OVERHEAD;
      return system + messagesTokens(body.messages);
    }
    case "gemini": {
      const si = body.systemInstruction ?? body.system_instruction;
      const system = si !== null && typeof si === "object" ? contentWords((si as Record<string, unknown>).parts) + MESSAGE_OVERHEAD : 0;
      return system + geminiContentsTokens(body.contents);
    }
  }
}
