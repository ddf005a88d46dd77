// How a request on one of the gateway's front doors reaches a backend: in the backend's
// own protocol as the client sent it (passthrough: bytes untouched but for the model
// name and include_usage), or translated (providers/). A pair with no translation is
// "unsuitable": the target is passed over, so a route may mix providers and each
// request goes to the targets that can serve it.

import type { Provider } from "../config/types.ts";
import { anthropicToOpenAi } from "../providers/anthropic-to-openai.ts";
import { azureOperation, azureUrl } from "../providers/azure.ts";
import { anthropicToGemini } from "../providers/anthropic-to-gemini.ts";
import { openAiToAnthropic } from "../providers/openai-to-anthropic.ts";
import { openAiToGemini } from "../providers/openai-to-gemini.ts";
import type { Translation } from "../providers/types.ts";
import type { Backend } from "../runtime/backend.ts";
import type { Endpoint } from "./endpoints.ts";

export type Wire = { kind: "passthrough" } | { kind: "translate"; translation: Translation } | { kind: "unsuitable"; why: string };

const PASS: Wire = { kind: "passthrough" };
const TO_ANTHROPIC: Wire = { kind: "translate", translation: openAiToAnthropic };
const TO_GEMINI: Wire = { kind: "translate", translation: openAiToGemini };
const FROM_ANTHROPIC: Wire = { kind: "translate", translation: anthropicToOpenAi };
/** Anthropic's Messages to Gemini through OpenAI's chat completions (providers/chain.ts). */
const ANTHROPIC_TO_GEMINI: Wire = { kind: "translate", translation: anthropicToGemini };

function unsuitable(provider: Provider, endpoint: Endpoint, serves: string): Wire {
  return { kind: "unsuitable", why: `a provider ${provider} backend cannot serve ${endpoint.path} (it serves ${serves})` };
}

export function wireFor(endpoint: Endpoint, provider: Provider): Wire {
  if (endpoint.protocol === "anthropic") {
    switch (provider) {
      case "anthropic":
      case "mock": // the mock speaks Anthropic's format itself
        return PASS;
      case "openai":
        return FROM_ANTHROPIC;
      case "azure":
        return FROM_ANTHROPIC;
      case "gemini":
        return ANTHROPIC_TO_GEMINI;
    }
  }
  switch (provider) {
    case "openai":
    case "mock":
      return PASS;
    case "azure":
      return azureOperation(endpoint.path) === null || endpoint.kind === "responses"
        ? unsuitable(provider, endpoint, "/v1/chat/completions, /v1/completions, /v1/embeddings and /v1/messages")
        : PASS;
    case "anthropic":
      return endpoint.kind === "chat" ? TO_ANTHROPIC : unsuitable(provider, endpoint, "/v1/chat/completions and /v1/messages");
    case "gemini":
      return endpoint.kind === "chat" ? TO_GEMINI : unsuitable(provider, endpoint, "/v1/chat/completions and /v1/messages");
  }
}

/**
 * The upstream URL (see config/http-url.ts for the two forms of base URL). `path` is
 * the endpoint's own (passthrough) or the translation's;
 * the client's query string goes along on passthrough only. Azure names the deployment
 * (the target's model) in the path and wants its api-version.
 */
export function upstreamUrl(backend: Backend, path: string, query: string, upstreamModel: string, translated: boolean): string {
  if (backend.config.provider === "azure") {
    const operation = azureOperation(path);
    if (operation === null) throw new Error(`no Azure operation for ${path}`); // wireFor refused these
    return azureUrl({ baseUrl: backend.baseUrl, deployment: upstreamModel, operation, apiVersion: backend.config.apiVersion });
  }
  // an API base has the version in it: /v1/chat/completions becomes /chat/completions
  const rest = backend.apiBase && path.startsWith("/v1/") ? path.slice(3) : path;
  return backend.baseUrl + rest + (translated ? "" : query);
}
