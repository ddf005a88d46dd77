// The built-in demo: `llmproxy serve --demo` (what `npm start` runs). One in-process
// mock backend, one named model and a catch-all, so any model name works.

export const DEMO_MODEL = "demo-model";

export function demoConfig(listen: string): Record<string, unknown> {
  return {
    listen,
    // the demo is for trying things locally: open, and nothing written to disk
    auth: "none",
    database: ":memory:",
    backends: [{ name: "demo", provider: "mock", mock: { tokens: 24, delay: "25ms" } }],
    models: [
      { name: DEMO_MODEL, targets: [{ backend: "demo" }] },
      { name: "*", targets: [{ backend: "demo" }] },
    ],
    log: { level: "info", format: "text", access: true },
  };
}

export function demoBanner(url: string, version: string): string {
  const body = JSON.stringify({ model: DEMO_MODEL, messages: [{ role: "user", content: "Hello!" }] });
  return [
    `llmproxy ${version} demo: the built-in mock LLM is being served at ${url}`,
    "",
    "Try it:",
    `  curl ${url}/v1/chat/completions -H 'content-type: application/json' -d '${body}'`,
    "",
    `or point any OpenAI client at base URL ${url}/v1 (any API key, model "${DEMO_MODEL}").`,
    "Stop with Ctrl-C.",
    "",
  ].join("\n");
}
