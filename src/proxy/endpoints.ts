// The inference endpoints the gateway proxies (OpenAI's, and Anthropic's Messages), and
// what each needs.

export type EndpointKind = "chat" | "completions" | "embeddings" | "responses" | "messages";

export interface Endpoint {
  readonly path: string;
  readonly kind: EndpointKind;
  /** The client's protocol: the shape of its errors, and which backends speak it natively. */
  readonly protocol: "openai" | "anthropic";
  /** The body field that must be present (messages, prompt, input), if any. */
  readonly required: string | null;
  /**
   * How a stream reports usage: "on_request" = only when stream_options.include_usage
   * is set (chat, completions: the gateway sets it and hides the extra chunk again);
   * "always" = the stream carries it anyway (responses, messages); "never" = no streams.
   */
  readonly streamUsage: "on_request" | "always" | "never";
}

export const ENDPOINTS: ReadonlyMap<string, Endpoint> = new Map(
  (
    [
      { path: "/v1/chat/completions", kind: "chat", protocol: "openai", required: "messages", streamUsage: "on_request" },
      { path: "/v1/completions", kind: "completions", protocol: "openai", required: "prompt", streamUsage: "on_request" },
      { path: "/v1/embeddings", kind: "embeddings", protocol: "openai", required: "input", streamUsage: "never" },
      { path: "/v1/responses", kind: "responses", protocol: "openai", required: null, streamUsage: "always" },
      { path: "/v1/messages", kind: "messages", protocol: "anthropic", required: "messages", streamUsage: "always" },
    ] as const
  ).map((e) => [e.path, e]),
);
