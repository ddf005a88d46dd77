// providers/chain.ts on two small translations of the test's own, whose every output
// names the half that made it: what crosses the middle, in which order, and which half
// answers for usage, text, errors and error events. The real pair (Anthropic in front of
// Gemini) runs end to end in test/e2e/protocols-anthropic-gemini.test.ts.

import { describe, expect, test } from "bun:test";
import { chain } from "../../src/providers/chain.ts";
import { TranslationError, type EncodeContext, type StreamTranslator, type TranslatedUsage, type Translation } from "../../src/providers/types.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const usage = (n: number): TranslatedUsage => ({ promptTokens: n, completionTokens: n, cachedTokens: 0, cacheWriteTokens: 0 });

/** A translation that wraps what it gets in `name(...)`, and records the contexts it was given. */
function tagging(name: string, opts: { usage: TranslatedUsage | null; failOn?: string }): Translation & { contexts: EncodeContext[] } {
  const contexts: EncodeContext[] = [];
  const stream = (ctx: EncodeContext): StreamTranslator => {
    contexts.push(ctx);
    let pushed = 0;
    return {
      push: (chunk) => (chunk.byteLength === 0 ? chunk : enc.encode(`${name}(${dec.decode(chunk)})`)),
      flush: () => enc.encode(`${name}-end${pushed++}`),
      usage: opts.usage,
      backendError: opts.usage ? `${name}-error` : null,
      keptText: () => `${name}-text`,
      coverage: () => (name === "inner" ? 2 : 3),
      errorEvent: (err) => enc.encode(`${name}-error-event:${err.code}`),
    };
  };
  return {
    contexts,
    encodeRequest(body, ctx) {
      contexts.push(ctx);
      if (opts.failOn && JSON.stringify(body).includes(opts.failOn)) throw new TranslationError(`${name} cannot take ${opts.failOn}`, "messages[1].tool_calls");
      return { path: `/${name}`, body: { [name]: body } };
    },
    decodeResponse(text, ctx) {
      contexts.push(ctx);
      return { body: `${name}(${text})`, usage: opts.usage, text: `${name}-text` };
    },
    streamTranslator: stream,
    decodeError: (status, text, backend) => `${name}-error(${status},${text},${backend})`,
  };
}

const ctx: EncodeContext = { upstreamModel: "up", clientModel: "client", stream: true, created: 1, includeUsage: false };

describe("chain(outer, inner)", () => {
  test("a request goes through the outer half, then the inner one, whose path is the one sent", () => {
    const outer = tagging("outer", { usage: null });
    const inner = tagging("inner", { usage: usage(7) });
    const req = chain(outer, inner, "Test").encodeRequest({ model: "m" }, ctx);
    expect(req).toEqual({ path: "/inner", body: { inner: { outer: { model: "m" } } } });
  });

  test("the inner half is always asked for the stream's usage; the outer keeps the client's choice", () => {
    const outer = tagging("outer", { usage: null });
    const inner = tagging("inner", { usage: usage(7) });
    const c = chain(outer, inner, "Test");
    c.encodeRequest({}, ctx);
    c.streamTranslator(ctx);
    c.decodeResponse("x", ctx);
    expect(outer.contexts.map((x) => x.includeUsage)).toEqual([false, false, false]);
    expect(inner.contexts.map((x) => x.includeUsage)).toEqual([true, true, true]);
  });

  test("a whole answer: the inner half decodes first; usage and text come from it, the body from the outer", () => {
    const r = chain(tagging("outer", { usage: usage(1) }), tagging("inner", { usage: usage(7) }), "Test").decodeResponse("raw", ctx);
    expect(r).toEqual({ body: "outer(inner(raw))", usage: usage(7), text: "inner-text" });
    // a backend without usage: the outer's, if it has one
    expect(chain(tagging("outer", { usage: usage(1) }), tagging("inner", { usage: null }), "Test").decodeResponse("raw", ctx).usage).toEqual(usage(1));
  });

  test("a stream: each chunk through both halves at once; the end flushes the inner into the outer, then the outer", () => {
    const s = chain(tagging("outer", { usage: null }), tagging("inner", { usage: usage(7) }), "Test").streamTranslator(ctx);
    expect(dec.decode(s.push(enc.encode("a")))).toBe("outer(inner(a))");
    expect(s.push(new Uint8Array(0)).byteLength).toBe(0);
    expect(dec.decode(s.flush())).toBe("outer(inner-end0)outer-end0");
    expect(s.usage).toEqual(usage(7));
    expect(s.backendError).toBe("inner-error");
    expect(s.keptText()).toBe("inner-text");
    expect(s.coverage()).toBe(2);
    // the gateway's own error mid-stream is told in the client's protocol
    expect(dec.decode(s.errorEvent({ code: "upstream_idle_timeout", message: "m", type: "timeout_error" }))).toBe("outer-error-event:upstream_idle_timeout");
  });

  test("a backend's refusal: the inner half's error body, then the outer's", () => {
    expect(chain(tagging("outer", { usage: null }), tagging("inner", { usage: null }), "Test").decodeError(429, "busy", "b1")).toBe("outer-error(429,inner-error(429,busy,b1),b1)");
  });

  test("what the inner half refuses is a TranslationError that says it is the translated request, without the inner half's field", () => {
    const c = chain(tagging("outer", { usage: null }), tagging("inner", { usage: null, failOn: "orphan" }), "Test");
    let err: unknown;
    try {
      c.encodeRequest({ text: "orphan" }, ctx);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TranslationError);
    expect((err as TranslationError).message).toBe("inner cannot take orphan (in the request as translated for a Test backend)");
    expect((err as TranslationError).param).toBeNull();
  });

  test("what the outer half refuses passes unchanged, its field named", () => {
    const c = chain(tagging("outer", { usage: null, failOn: "bad" }), tagging("inner", { usage: null }), "Test");
    expect(() => c.encodeRequest({ text: "bad" }, ctx)).toThrow(new TranslationError("outer cannot take bad", "messages[1].tool_calls"));
  });
});
