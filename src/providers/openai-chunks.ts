// OpenAI chat-completion chunks ("The chat completion chunk object") written as SSE
// events, for translations whose client speaks OpenAI. Every chunk of one answer shares
// id, created and model, so their JSON prefix is built once and each event is that
// prefix plus one small delta; only the generated strings go through JSON.stringify.
//
// Like OpenAI: the first chunk of a choice carries the role; a tool call's first delta
// carries its id, type and name; `"usage":null` is on every chunk when the client asked
// for stream_options.include_usage (and absent otherwise), and then one last chunk with
// "choices":[] carries the usage before `data: [DONE]`.

import { errorBody } from "../errors.ts";

const encoder = new TextEncoder();

export const SSE_DONE = "data: [DONE]\n\n";

export class OpenAiChunkWriter {
  private readonly pre: string;
  private readonly post: string;

  constructor(id: string, created: number, model: string, includeUsage: boolean) {
    this.pre = `data: {"id":${JSON.stringify(id)},"object":"chat.completion.chunk","created":${created},"model":${JSON.stringify(model)},"choices":[`;
    this.post = includeUsage ? `],"usage":null}\n\n` : `]}\n\n`;
  }

  private delta(choice: number, delta: string, finish: string | null = null): string {
    const f = finish === null ? "null" : JSON.stringify(finish);
    return `${this.pre}{"index":${choice},"delta":${delta},"logprobs":null,"finish_reason":${f}}${this.post}`;
  }

  /** The first chunk of a choice: the role, and empty content as OpenAI sends it. */
  role(choice: number): string {
    return this.delta(choice, `{"role":"assistant","content":""}`);
  }

  content(choice: number, text: string): string {
    return this.delta(choice, `{"content":${JSON.stringify(text)}}`);
  }

  /** Reasoning, as DeepSeek, vLLM and SGLang stream it. */
  reasoning(choice: number, text: string): string {
    return this.delta(choice, `{"reasoning_content":${JSON.stringify(text)}}`);
  }

  /** A tool call's first delta: id, name and the arguments so far ("" when they follow in toolArguments). */
  toolCall(choice: number, index: number, id: string, name: string, args: string): string {
    return this.delta(
      choice,
      `{"tool_calls":[{"index":${index},"id":${JSON.stringify(id)},"type":"function","function":{"name":${JSON.stringify(name)},"arguments":${JSON.stringify(args)}}}]}`,
    );
  }

  /** More of a tool call's arguments. */
  toolArguments(choice: number, index: number, fragment: string): string {
    return this.delta(choice, `{"tool_calls":[{"index":${index},"function":{"arguments":${JSON.stringify(fragment)}}}]}`);
  }

  finish(choice: number, reason: string): string {
    return this.delta(choice, "{}", reason);
  }

  /** The usage chunk (choices: []); `usageJson` is OpenAI's usage object as JSON. */
  usage(usageJson: string): string {
    return `${this.pre}],"usage":${usageJson}}\n\n`;
  }
}

/**
 * A mid-stream error as OpenAI sends one: a data event with an `error` object, which the
 * openai SDKs raise as an APIError. No [DONE] follows.
 */
export function openAiErrorEvent(code: string, message: string, type: string): Uint8Array {
  return encoder.encode(`data: ${errorBody(code, message, type)}\n\n`);
}
