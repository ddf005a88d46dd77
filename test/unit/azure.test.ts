import { describe, expect, test } from "bun:test";
import { AZURE_GA_API_VERSION, azureAuthHeaders, azureDeployment, azureOperation, azureUrl } from "../../src/providers/azure.ts";

describe("Azure OpenAI URLs", () => {
  const base = "https://my-res.openai.azure.com";

  test("the deployments style puts the deployment in the path and the GA api-version in the query", () => {
    expect(AZURE_GA_API_VERSION).toBe("2024-10-21");
    expect(azureUrl({ baseUrl: base, deployment: "gpt-4o-prod", operation: "chat/completions" })).toBe(
      "https://my-res.openai.azure.com/openai/deployments/gpt-4o-prod/chat/completions?api-version=2024-10-21",
    );
    expect(azureUrl({ baseUrl: base, deployment: "instruct", operation: "completions", apiVersion: "2025-04-01-preview" })).toBe(
      "https://my-res.openai.azure.com/openai/deployments/instruct/completions?api-version=2025-04-01-preview",
    );
    expect(azureUrl({ baseUrl: base, deployment: "emb 3/large", operation: "embeddings" })).toBe(
      "https://my-res.openai.azure.com/openai/deployments/emb%203%2Flarge/embeddings?api-version=2024-10-21",
    );
  });

  test("the v1 style is OpenAI's path under /openai/v1, without api-version unless one is asked", () => {
    expect(azureUrl({ baseUrl: base, deployment: "d", operation: "chat/completions", style: "v1" })).toBe("https://my-res.openai.azure.com/openai/v1/chat/completions");
    expect(azureUrl({ baseUrl: base, deployment: "d", operation: "responses", style: "v1", apiVersion: "preview" })).toBe(
      "https://my-res.openai.azure.com/openai/v1/responses?api-version=preview",
    );
  });

  test("a base pasted with a trailing slash, /openai or /openai/v1 gives the same URLs", () => {
    for (const b of [`${base}/`, `${base}/openai`, `${base}/openai/`, `${base}/openai/v1/`]) {
      expect(azureUrl({ baseUrl: b, deployment: "d", operation: "chat/completions" })).toBe(`${base}/openai/deployments/d/chat/completions?api-version=2024-10-21`);
      expect(azureUrl({ baseUrl: b, deployment: "d", operation: "embeddings", style: "v1" })).toBe(`${base}/openai/v1/embeddings`);
    }
  });

  test("the Responses API in the deployments style is refused (Azure serves it only under /openai/v1)", () => {
    expect(() => azureUrl({ baseUrl: base, deployment: "d", operation: "responses" })).toThrow("v1");
  });

  test("gateway endpoint paths map to Azure operations", () => {
    expect(azureOperation("/v1/chat/completions")).toBe("chat/completions");
    expect(azureOperation("/completions")).toBe("completions");
    expect(azureOperation("/v1/embeddings")).toBe("embeddings");
    expect(azureOperation("/v1/responses")).toBe("responses");
    expect(azureOperation("/v1/messages")).toBeNull();
  });
});

describe("Azure OpenAI auth and deployments", () => {
  test("an API key goes in api-key, an Entra ID token in Authorization: Bearer", () => {
    expect(azureAuthHeaders({ apiKey: "k123" })).toEqual({ "api-key": "k123" });
    expect(azureAuthHeaders({ entraToken: "eyJ0" })).toEqual({ authorization: "Bearer eyJ0" });
  });

  test("the deployment is the upstream model name unless a mapping names another", () => {
    expect(azureDeployment("gpt-4o")).toBe("gpt-4o");
    expect(azureDeployment("gpt-4o", { "gpt-4o": "prod-4o-eastus" })).toBe("prod-4o-eastus");
    expect(azureDeployment("gpt-4o-mini", { "gpt-4o": "prod-4o-eastus" })).toBe("gpt-4o-mini");
    expect(azureDeployment("toString", {})).toBe("toString");
  });
});
