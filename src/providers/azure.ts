// Azure OpenAI speaks OpenAI's wire format behind other URLs and another auth header.
// Pure helpers: the upstream URL of a request, its auth header, the deployment a model
// goes to. (Azure OpenAI REST API reference; "API version lifecycle".)
//
// Two URL styles are documented:
// - deployments (the dated API): {base}/openai/deployments/{deployment}/{operation}
//   ?api-version=YYYY-MM-DD. The deployment in the path picks the model; the body's
//   `model` is ignored. api-version is required.
// - v1 (GA since August 2025): {base}/openai/v1/{operation}, like OpenAI's own API: the
//   body's `model` names the deployment, and api-version is not needed (api-version=preview
//   opts into preview features).
// {base} is the resource endpoint: https://{resource}.openai.azure.com, or the
// .cognitiveservices.azure.com / .services.ai.azure.com host of a Foundry resource.
//
// Auth: an API key goes in the `api-key` header; a Microsoft Entra ID access token as
// Authorization: Bearer. (The v1 API also takes the key as a Bearer token; `api-key`
// works on both styles, so a key always goes there.)

/** The latest GA version of the dated data-plane inference API (chat completions, completions, embeddings). */
export const AZURE_GA_API_VERSION = "2024-10-21";

/** What the request does: the path below /openai/deployments/{deployment}/ (or /openai/v1/). */
export type AzureOperation = "chat/completions" | "completions" | "embeddings" | "responses";

export type AzureUrlStyle = "deployments" | "v1";

export interface AzureUrlInput {
  /** The resource endpoint, e.g. https://my-res.openai.azure.com; a trailing "/", "/openai" or "/openai/v1" is tolerated. */
  baseUrl: string;
  /** The deployment name (used in the path by the deployments style; the v1 style sends it as the body's model). */
  deployment: string;
  operation: AzureOperation;
  /** Default "deployments". */
  style?: AzureUrlStyle;
  /** deployments: default AZURE_GA_API_VERSION. v1: none by default ("preview" for preview features). */
  apiVersion?: string;
}

/** The resource endpoint without what users often paste after it. */
function resourceBase(url: string): string {
  let base = url.replace(/\/+$/, "");
  if (base.endsWith("/openai/v1")) base = base.slice(0, -"/openai/v1".length);
  else if (base.endsWith("/openai")) base = base.slice(0, -"/openai".length);
  return base;
}

/**
 * The upstream URL of a request. The Responses API exists only in the v1 style (the dated
 * API has it in previews only, without a deployment in the path): asking for it with the
 * deployments style throws, which a config check should have refused earlier.
 */
export function azureUrl(input: AzureUrlInput): string {
  const base = resourceBase(input.baseUrl);
  if ((input.style ?? "deployments") === "v1") {
    const q = input.apiVersion === undefined || input.apiVersion === "" ? "" : `?api-version=${encodeURIComponent(input.apiVersion)}`;
    return `${base}/openai/v1/${input.operation}${q}`;
  }
  if (input.operation === "responses") throw new Error("Azure OpenAI serves the Responses API only in the v1 URL style (/openai/v1/responses)");
  const version = input.apiVersion === undefined || input.apiVersion === "" ? AZURE_GA_API_VERSION : input.apiVersion;
  return `${base}/openai/deployments/${encodeURIComponent(input.deployment)}/${input.operation}?api-version=${encodeURIComponent(version)}`;
}

/** The operation for a gateway endpoint path (/v1/chat/completions, ...), or null when Azure has none. */
export function azureOperation(path: string): AzureOperation | null {
  switch (path) {
    case "/v1/chat/completions":
    case "/chat/completions":
      return "chat/completions";
    case "/v1/completions":
    case "/completions":
      return "completions";
    case "/v1/embeddings":
    case "/embeddings":
      return "embeddings";
    case "/v1/responses":
    case "/responses":
      return "responses";
    default:
      return null;
  }
}

/** An API key (Keys and Endpoint in the portal) or a Microsoft Entra ID access token. */
export type AzureCredential = { apiKey: string } | { entraToken: string };

/** The auth header for a credential: api-key for a key, Authorization: Bearer for an Entra ID token. */
export function azureAuthHeaders(credential: AzureCredential): Record<string, string> {
  if ("apiKey" in credential) return { "api-key": credential.apiKey };
  return { authorization: `Bearer ${credential.entraToken}` };
}

/**
 * The deployment a request goes to: the route's upstream model name, unless a mapping
 * names another deployment for it (deployments are named by whoever created them, often
 * not after the model).
 */
export function azureDeployment(upstreamModel: string, deployments?: Readonly<Record<string, string>>): string {
  const mapped = deployments !== undefined && Object.hasOwn(deployments, upstreamModel) ? deployments[upstreamModel] : undefined;
  return mapped ?? upstreamModel;
}
