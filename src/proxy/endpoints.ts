// The OpenAI-compatible endpoints the gateway proxies, and what each needs.

export type EndpointKind = "chat" | "completions" | "embeddings" | "responses";

export interface Endpoint {
  readonly path: string;
  readonly kind: EndpointKind;
  /** The body field that must be present (messages, prompt, input), if any. */
  readonly required: string | null;
  /**
   * How a stream reports usage: "on_request" = only when stream_options.include_usage
   * is set (chat, completions: the gateway sets it and hides the extra chunk again);
   * "always" = the final event carries it (responses); "never" = no streams.
   */
  readonly streamUsage: "on_request" | "always" | "never";
}

export const ENDPOINTS: ReadonlyMap<string, Endpoint> = new Map(
  (
    [
      { path: "/v1/chat/completions", kind: "chat", required: "messages", streamUsage: "on_request" },
      { path: "/v1/completions", kind: "completions", required: "prompt", streamUsage: "on_request" },
      { path: "/v1/embeddings", kind: "embeddings", required: "input", streamUsage: "never" },
      { path: "/v1/responses", kind: "responses", required: null, streamUsage: "always" },
    ] as const
  ).map((e) => [e.path, e]),
);
