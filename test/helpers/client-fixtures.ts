// What the protocol tests drive the official clients with: a tool in OpenAI's form, a
// way to await a call that must fail and look at its error, and a stream read to its end
// or its error.

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
