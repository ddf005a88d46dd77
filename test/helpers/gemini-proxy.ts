// The daemon both Gemini protocol tests run (the OpenAI client in front of Gemini, and
// the Anthropic one): the fake LLM as two `provider: gemini` backends, one serving the
// route `model`, the other the route "gemini-errors", whose refusals (the error tests
// ask for them) must not eject or pause the first.

import { startProxy, type ProxyProcess } from "./proxy.ts";

export function startGeminiProxy(mockUrl: string, apiKey: string, model: string): Promise<ProxyProcess> {
  return startProxy({
    config: `
x-quiet: &quiet { interval: 0s }
backends:
  - { name: gemini, provider: gemini, url: ${mockUrl}, api_key: ${apiKey}, health: *quiet }
  - { name: gemini-errors, provider: gemini, url: ${mockUrl}, api_key: ${apiKey}, health: *quiet, circuit: { failures: 1000 } }
models:
  - { name: ${model}, targets: [{ backend: gemini, model: gemini-2.5-flash }] }
  - { name: gemini-errors, targets: [{ backend: gemini-errors, model: gemini-2.5-flash }] }
retries: { attempts: 0 }
`,
  });
}
