// providers/anthropic-to-gemini.ts: what the Anthropic door adds to the chained
// translation for a Gemini backend (extended thinking's budget) and its token counter's
// request and answer. The whole path runs end to end in
// test/e2e/protocols-anthropic-gemini.test.ts.

import { describe, expect, test } from "bun:test";
import { anthropicToGemini, geminiCountAnswer, geminiCountRequest } from "../../src/providers/anthropic-to-gemini.ts";
import { TranslationError, type EncodeContext } from "../../src/providers/types.ts";

const ctx = (upstreamModel = "gemini-2.5-flash"): EncodeContext => ({ upstreamModel, clientModel: "claude", stream: false, created: 1, includeUsage: false });
const hello = { model: "claude", max_tokens: 50, messages: [{ role: "user", content: "hi" }] };

describe("extended thinking", () => {
  test("enabled: budget_tokens becomes generationConfig.thinkingConfig.thinkingBudget, with the thoughts asked back, beside the other settings", () => {
    const r = anthropicToGemini.encodeRequest({ ...hello, thinking: { type: "enabled", budget_tokens: 2048 } }, ctx());
    expect(r.body.generationConfig).toEqual({ maxOutputTokens: 50, thinkingConfig: { thinkingBudget: 2048, includeThoughts: true } });
  });

  test("absent or disabled: no thinkingConfig, the model keeps its default", () => {
    expect(anthropicToGemini.encodeRequest(hello, ctx()).body.generationConfig).toEqual({ maxOutputTokens: 50 });
    expect(anthropicToGemini.encodeRequest({ ...hello, thinking: { type: "disabled" } }, ctx()).body.generationConfig).toEqual({ maxOutputTokens: 50 });
  });

  test("a budget that is not a non-negative integer is the client's error, naming the field", () => {
    for (const budget of ["1024", -1, 1.5]) {
      expect(() => anthropicToGemini.encodeRequest({ ...hello, thinking: { type: "enabled", budget_tokens: budget } }, ctx())).toThrow(
        new TranslationError("thinking.budget_tokens must be a non-negative integer", "thinking.budget_tokens"),
      );
    }
  });
});

describe("count_tokens as countTokens", () => {
  test("the counted parts of the translated request inside generateContentRequest, with the model's resource name", () => {
    const r = geminiCountRequest({ model: "claude", system: "be brief", messages: [{ role: "user", content: "hi" }] }, ctx());
    expect(r.path).toBe("/v1beta/models/gemini-2.5-flash:countTokens");
    expect(r.body).toEqual({
      generateContentRequest: {
        model: "models/gemini-2.5-flash",
        contents: [{ role: "user", parts: [{ text: "hi" }] }],
        systemInstruction: { parts: [{ text: "be brief" }] },
      },
    });
  });

  test("a configured resource name (tunedModels/...) is kept as it is; max_tokens, meaningless to a count, is left out", () => {
    const r = geminiCountRequest({ ...hello, max_tokens: 7 }, ctx("tunedModels/my-tune"));
    expect(r.path).toBe("/v1beta/tunedModels/my-tune:countTokens");
    expect((r.body.generateContentRequest as { model: string }).model).toBe("tunedModels/my-tune");
    expect(JSON.stringify(r.body)).not.toContain("maxOutputTokens");
  });

  test("the answer: totalTokens as input_tokens; anything else is an unreadable answer", () => {
    expect(geminiCountAnswer('{"totalTokens":42,"promptTokensDetails":[]}')).toBe('{"input_tokens":42}');
    for (const bad of ["not json", "[]", "{}", '{"totalTokens":-1}', '{"totalTokens":"3"}']) expect(() => geminiCountAnswer(bad)).toThrow(TranslationError);
  });
});
