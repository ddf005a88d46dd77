import { describe, expect, test } from "bun:test";
import { countPromptTokens, countWords, mockCompletionText, mockCompletionTextJson, mockToken, mockTokenJson, toolArgumentFragments } from "../../src/mock/text.ts";
import { embeddingInputs, mockEmbedding } from "../../src/mock/openai-embeddings.ts";

describe("the mock's token generator", () => {
  test("an answer of n tokens is the word cycle, spaces before every token but the first", () => {
    expect(mockCompletionText(0)).toBe("");
    expect(mockCompletionText(1)).toBe("the");
    expect(mockCompletionText(4)).toBe("the quick brown fox");
    expect(mockToken(0)).toBe("the");
    expect(mockToken(1)).toBe(" quick");
    // The cycle has 16 words and then starts again, with its leading space.
    expect(mockToken(16)).toBe(" the");
    expect(mockCompletionText(18)).toBe("the quick brown fox jumps over the lazy dog and runs far into a green field the quick");
  });

  test("an answer's text counts as exactly its number of tokens when it is sent back as a prompt", () => {
    for (const n of [0, 1, 7, 16, 33]) expect(countWords(mockCompletionText(n))).toBe(n);
  });

  test("the precomputed JSON forms equal JSON.stringify of the text", () => {
    for (let i = 0; i < 40; i++) expect(mockTokenJson(i)).toBe(JSON.stringify(mockToken(i)));
    for (const n of [0, 1, 5, 100]) expect(mockCompletionTextJson(n)).toBe(JSON.stringify(mockCompletionText(n)));
  });

  test("tool arguments are one fragment per token and join into a JSON object", () => {
    const frags = toolArgumentFragments(3, "location");
    expect(frags).toEqual(['{"location":"the', " quick", ' brown"}']);
    expect(JSON.parse(frags.join(""))).toEqual({ location: "the quick brown" });
    expect(toolArgumentFragments(1, "q")).toEqual(['{"q":"the"}']);
    // Zero tokens still makes valid JSON: one fragment.
    expect(toolArgumentFragments(0, "q")).toEqual(["{}"]);
  });
});

describe("countPromptTokens", () => {
  test("counts whitespace-separated words", () => {
    expect(countWords("")).toBe(0);
    expect(countWords("  hello\tworld\n again ")).toBe(3);
  });

  test("chat: words of every message's content plus 3 per message, text parts included", () => {
    const body = {
      messages: [
        { role: "system", content: "be brief" },
        { role: "user", content: [{ type: "text", text: "what is up" }, { type: "image_url", image_url: { url: "x" } }] },
        { role: "assistant", content: null, tool_calls: [] },
      ],
    };
    expect(countPromptTokens("chat", body)).toBe(2 + 3 + 3 + 3 + 0 + 3);
  });

  test("completions and embeddings: words of strings, the length of token arrays", () => {
    expect(countPromptTokens("completions", { prompt: "one two three" })).toBe(3);
    expect(countPromptTokens("completions", { prompt: ["a b", "c"] })).toBe(3);
    expect(countPromptTokens("embeddings", { input: [1, 2, 3, 4] })).toBe(4);
    expect(countPromptTokens("embeddings", { input: [[1, 2], [3]] })).toBe(3);
  });

  test("responses: a string input is one message, instructions another", () => {
    expect(countPromptTokens("responses", { input: "hi there" })).toBe(2 + 3);
    expect(countPromptTokens("responses", { instructions: "be nice", input: "hi" })).toBe(2 + 3 + 1 + 3);
    const items = { input: [{ role: "user", content: [{ type: "input_text", text: "a b c" }] }, { role: "user", content: "d" }] };
    expect(countPromptTokens("responses", items)).toBe(3 + 3 + 1 + 3);
  });

  test("messages (Anthropic): like chat, plus the system prompt as one more message", () => {
    const body = {
      system: [{ type: "text", text: "you are terse" }],
      messages: [
        { role: "user", content: "hello you" },
        { role: "user", content: [{ type: "tool_result", tool_use_id: "t", content: [{ type: "text", text: "42 degrees" }] }] },
      ],
    };
    expect(countPromptTokens("messages", body)).toBe(3 + 3 + 2 + 3 + 2 + 3);
    expect(countPromptTokens("messages", { messages: [{ role: "user", content: "x" }] })).toBe(4);
  });

  test("bodies of the wrong shape count 0 instead of throwing", () => {
    expect(countPromptTokens("chat", {})).toBe(0);
    expect(countPromptTokens("chat", { messages: "nope" })).toBe(0);
    expect(countPromptTokens("responses", { input: 5 })).toBe(0);
  });
});

describe("mock embeddings", () => {
  test("are deterministic, unit length and float32", () => {
    const a = mockEmbedding("hello", 16);
    expect(mockEmbedding("hello", 16)).toEqual(a);
    expect(mockEmbedding("world", 16)).not.toEqual(a);
    let norm = 0;
    for (const x of a) {
      norm += x * x;
      expect(Math.fround(x)).toBe(x);
    }
    expect(Math.abs(norm - 1)).toBeLessThan(1e-5);
  });

  test("accept every documented input shape and refuse others", () => {
    expect(embeddingInputs("x")).toEqual(["x"]);
    expect(embeddingInputs(["x", "y"])).toEqual(["x", "y"]);
    expect(embeddingInputs([1, 2])).toEqual(["1,2"]);
    expect(embeddingInputs([[1], [2, 3]])).toEqual(["1", "2,3"]);
    expect(embeddingInputs([])).toBeNull();
    expect(embeddingInputs([1, "x"])).toBeNull();
    expect(embeddingInputs({})).toBeNull();
  });
});
