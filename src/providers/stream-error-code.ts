// What a backend's error event inside its stream says, in the few words a usage record
// and a log line keep: the event shapes of each provider this gateway speaks to.

/**
 * The code of an error event's payload, or null when the payload is not one: OpenAI and
 * vLLM {"error":{message,type,code}} (or a string), Anthropic {"type":"error","error":
 * {type,message}}, the Responses API {"type":"error",code} and {"type":"response.failed",
 * "response":{"error":{code}}}.
 */
export function errorEventCode(obj: unknown): string | null {
  if (!obj || typeof obj !== "object") return null;
  const o = obj as Record<string, unknown>;
  const named = (e: unknown, fallback: string): string => {
    if (e && typeof e === "object") {
      const { code, type } = e as { code?: unknown; type?: unknown };
      if ((typeof code === "string" && code !== "") || typeof code === "number") return String(code);
      if (typeof type === "string" && type !== "") return type;
    }
    return fallback;
  };
  if (o.type === "error") return typeof o.code === "string" && o.code !== "" ? o.code : named(o.error, "error");
  if (o.type === "response.failed") return named((o.response as Record<string, unknown> | undefined)?.error, "response_failed");
  if (o.error && (typeof o.error === "object" || typeof o.error === "string")) return named(o.error, "error");
  return null;
}
