// What the protocol tests drive the official clients with: a tool in OpenAI's form, and
// a way to await a call that must fail and look at its error.

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
