import { describe, expect, test } from "bun:test";
import { GatewayError } from "../../src/errors.ts";
import { ENDPOINTS } from "../../src/proxy/endpoints.ts";
import { parseInferenceBody, upstreamBodyText } from "../../src/proxy/request-body.ts";

const chat = ENDPOINTS.get("/v1/chat/completions")!;
const embeddings = ENDPOINTS.get("/v1/embeddings")!;

function fails(text: string, code: string, param?: string, endpoint = chat): GatewayError {
  try {
    parseInferenceBody(text, endpoint);
  } catch (err) {
    expect(err).toBeInstanceOf(GatewayError);
    const ge = err as GatewayError;
    expect(ge.code).toBe(code as GatewayError["code"]);
    expect(ge.status).toBe(400);
    if (param) expect(ge.param).toBe(param);
    return ge;
  }
  throw new Error(`expected ${text} to fail with ${code}`);
}

describe("parseInferenceBody", () => {
  test("accepts a chat body and reads model, stream and include_usage", () => {
    const b = parseInferenceBody('{"model":"m","messages":[],"stream":true,"stream_options":{"include_usage":true}}', chat);
    expect(b.model).toBe("m");
    expect(b.stream).toBe(true);
    expect(b.clientIncludeUsage).toBe(true);
  });

  test("malformed JSON is a 400 invalid_json naming the parser's complaint", () => {
    const e = fails('{"model": "m",', "invalid_json");
    expect(e.message).toStartWith("The request body is not valid JSON:");
  });

  test("a body that is not an object", () => {
    expect(fails("[1]", "invalid_request").message).toContain("got an array");
  });

  test("missing or empty model", () => {
    fails('{"messages":[]}', "missing_model", "model");
    fails('{"model":"","messages":[]}', "missing_model", "model");
  });

  test("wrong types", () => {
    expect(fails('{"model":5,"messages":[]}', "invalid_request", "model").message).toContain("got a number");
    fails('{"model":"m","messages":[],"stream":"yes"}', "invalid_request", "stream");
    fails('{"model":"m","messages":[],"stream_options":true}', "invalid_request", "stream_options");
    fails('{"model":"m","messages":[],"stream_options":{"include_usage":"y"}}', "invalid_request", "stream_options.include_usage");
    fails('{"model":"m","messages":{}}', "invalid_request", "messages");
    fails('{"model":"m","messages":[],"max_tokens":"10"}', "invalid_request", "max_tokens");
  });

  test("the endpoint's input is required", () => {
    fails('{"model":"m"}', "invalid_request", "messages");
    fails('{"model":"m"}', "invalid_request", "input", embeddings);
  });

  test("embeddings do not stream", () => {
    fails('{"model":"m","input":"x","stream":true}', "invalid_request", "stream", embeddings);
  });
});

describe("upstreamBodyText", () => {
  test("unchanged when the route keeps the name and nothing is injected", () => {
    const text = '{"model":"m","messages":[],"logprobs":true,"x_unknown":{"a":1.0}}';
    expect(upstreamBodyText(parseInferenceBody(text, chat), undefined, false)).toBe(text);
    expect(upstreamBodyText(parseInferenceBody(text, chat), "m", false)).toBe(text);
  });

  test("renames the model and injects include_usage, touching nothing else", () => {
    const text = '{"messages":[{"role":"user","content":"model"}],"model":"alias","stream":true,"temperature":1.0}';
    const out = upstreamBodyText(parseInferenceBody(text, chat), "org/real", true);
    expect(out).toBe('{"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"model"}],"model":"org/real","stream":true,"temperature":1.0}');
  });

  test("keeps the client's other stream_options when turning include_usage on", () => {
    const text = '{"model":"m","messages":[],"stream":true,"stream_options":{"include_usage":false,"continuous_usage_stats":true}}';
    const out = JSON.parse(upstreamBodyText(parseInferenceBody(text, chat), undefined, true));
    expect(out.stream_options).toEqual({ include_usage: true, continuous_usage_stats: true });
    const withNull = JSON.parse(upstreamBodyText(parseInferenceBody('{"model":"m","messages":[],"stream":true,"stream_options":null}', chat), undefined, true));
    expect(withNull.stream_options).toEqual({ include_usage: true });
  });
});
