// Token estimates for answers whose backend reported no usage (servers without
// stream_options support, streams cut short by the client or a timeout). Counted with a
// real BPE tokenizer (cl100k_base): exact for OpenAI's older models, within a few percent
// for Llama/Qwen-family tokenizers on ordinary text. Results are marked "estimate".
//
// The tokenizer costs ~80 MB of memory and ~120 ms to load, so it is loaded only the
// first time an estimate is needed; a gateway whose backends report usage never loads it.

type CountFn = (text: string) => number;

let counter: Promise<CountFn> | null = null;

function loadCounter(): Promise<CountFn> {
  counter ??= import("gpt-tokenizer/encoding/cl100k_base").then((m) => {
    // Text from users may contain special-token strings ("<|endoftext|>"); count them
    // as ordinary text instead of throwing.
    const opts = { disallowedSpecial: new Set<string>() };
    return (text: string) => (text.length === 0 ? 0 : m.countTokens(text, opts));
  });
  return counter;
}

export async function countTokens(text: string): Promise<number> {
  return (await loadCounter())(text);
}

/** Per-message framing tokens of the chat format (role markers), as OpenAI counts them. */
const TOKENS_PER_MESSAGE = 3;
/** Every reply is primed with <|start|>assistant<|message|>. */
const REPLY_PRIMING = 3;

/** The text a request body sends to the model, for a prompt-token estimate. */
export function promptText(body: Record<string, unknown>): { text: string; messages: number } {
  const parts: string[] = [];
  let messages = 0;
  const add = (v: unknown): void => {
    if (typeof v === "string") parts.push(v);
    else if (Array.isArray(v)) for (const x of v) add(x);
    else if (v && typeof v === "object") {
      const o = v as Record<string, unknown>;
      // content parts: {type:"text", text} / {type:"input_text", text}; images are not
      // counted. Anthropic's blocks: tool_use carries its input, tool_result its content.
      if (typeof o.text === "string") parts.push(o.text);
      else if (o.type === "tool_use") parts.push(typeof o.name === "string" ? o.name : "", JSON.stringify(o.input ?? {}));
      else if ("content" in o) add(o.content);
    }
  };
  if (Array.isArray(body.messages)) {
    for (const m of body.messages) {
      messages++;
      if (m && typeof m === "object") {
        const msg = m as Record<string, unknown>;
        add(msg.content);
        if (typeof msg.name === "string") parts.push(msg.name);
        if (Array.isArray(msg.tool_calls)) parts.push(JSON.stringify(msg.tool_calls));
      }
    }
  }
  // a string (Anthropic), or Anthropic's list of text blocks
  add(body.system);
  add(body.prompt);
  add(body.input);
  if (typeof body.instructions === "string") parts.push(body.instructions);
  if (Array.isArray(body.tools)) parts.push(JSON.stringify(body.tools));
  return { text: parts.join("\n"), messages };
}

export async function estimatePromptTokens(body: Record<string, unknown>): Promise<number> {
  const { text, messages } = promptText(body);
  const framing = messages > 0 ? messages * TOKENS_PER_MESSAGE + REPLY_PRIMING : 0;
  return (await countTokens(text)) + framing;
}

/**
 * Completion tokens from the text the tap kept. When the answer was longer than what
 * was kept (coverage > 1), the rest is extrapolated from the kept part's token density.
 */
export async function estimateCompletionTokens(kept: string, coverage: number): Promise<number> {
  const n = await countTokens(kept);
  return coverage > 1 ? Math.round(n * coverage) : n;
}
