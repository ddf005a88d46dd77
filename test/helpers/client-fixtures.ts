// What the protocol tests drive the official clients with: a tool in OpenAI's and in
// Anthropic's form, a way to await a call that must fail and look at its error, a stream
// read to its end or its error, and the checks of the fake LLM's call of that tool as
// the Anthropic SDK sees it.

import { expect } from "bun:test";
import type Anthropic from "@anthropic-ai/sdk";
import type { MessageStream } from "@anthropic-ai/sdk/lib/MessageStream";
import { mockCompletionText } from "../../src/mock/text.ts";
import type { ProxyProcess } from "./proxy.ts";

/** An OpenAI-style function tool the mocks and translations answer with tool calls. */
export const WEATHER_TOOL = {
  type: "function" as const,
  function: {
    name: "get_weather",
    description: "Weather at a place",
    parameters: { type: "object", properties: { location: { type: "string" } }, required: ["location"] },
  },
};

/** The error a promise rejects with, or null when it resolves. */
export function failure(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => null,
    (e: unknown) => e,
  );
}

/** A chat stream of the OpenAI client read to its end: its text, and the error it ended with (null when none). */
export async function drainChat(stream: AsyncIterable<{ choices: { delta?: { content?: string | null } }[] }>): Promise<{ text: string; error: unknown }> {
  let text = "";
  try {
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? "";
    return { text, error: null };
  } catch (error) {
    return { text, error };
  }
}

/** The same tool in Anthropic's form (input_schema). */
export const ANTHROPIC_WEATHER_TOOL = {
  name: "get_weather",
  description: "Weather at a place",
  input_schema: { type: "object" as const, properties: { location: { type: "string" } }, required: ["location"] },
};

/** The fake LLM's answer to an offered tool, as the Anthropic SDK returns it: one get_weather tool_use block, stop_reason tool_use. */
export function expectWeatherToolUse(msg: Anthropic.Message, tokens: number): Anthropic.ToolUseBlock {
  expect(msg.stop_reason).toBe("tool_use");
  expect(msg.content).toHaveLength(1);
  const block = msg.content[0]!;
  if (block.type !== "tool_use") throw new Error(`not a tool_use: ${JSON.stringify(block)}`);
  expect(block.name).toBe("get_weather");
  expect(block.input).toEqual({ location: mockCompletionText(tokens) });
  expect(block.id).toMatch(/^[A-Za-z0-9_-]+$/);
  return block;
}

/** The same call streamed: the SDK assembles it from the input_json deltas, which join to the whole input. */
export async function expectStreamedWeatherToolUse(stream: MessageStream, tokens: number): Promise<Anthropic.Message> {
  const fragments: string[] = [];
  stream.on("inputJson", (partial) => fragments.push(partial));
  const final = await stream.finalMessage();
  expectWeatherToolUse(final, tokens);
  expect(fragments.join("")).toBe(JSON.stringify({ location: mockCompletionText(tokens) }));
  expect(final.usage.output_tokens).toBe(tokens);
  return final;
}

/**
 * A count_tokens call is not inference: it leaves no access-log line (nor usage record).
 * Awaited, not slept on: a later inference request's line arrives; the count's never does.
 */
export async function expectCountNotLogged(proxy: ProxyProcess, client: Anthropic, params: Anthropic.MessageCountTokensParams, model: string): Promise<void> {
  const { response } = await client.messages.countTokens(params).withResponse();
  const id = response.headers.get("x-request-id")!;
  expect(id).toBeTruthy();
  const after = await client.messages.create({ model, max_tokens: 10, messages: [{ role: "user", content: "after the count" }] }).withResponse();
  await proxy.accessLine(after.response.headers.get("x-request-id")!);
  expect(proxy.logs.some((l) => l.msg === "request" && l.request_id === id)).toBe(false);
}
