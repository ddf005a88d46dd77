import { describe, expect, test } from "bun:test";
import { compileModelGlobs, globProblem } from "../../src/auth/globs.ts";

describe("compileModelGlobs", () => {
  test("an empty list allows every model", () => {
    const ok = compileModelGlobs([]);
    expect(ok("gpt-4o")).toBe(true);
    expect(ok("")).toBe(true);
  });

  test("a literal name matches only itself, whole", () => {
    const ok = compileModelGlobs(["meta-llama/Meta-Llama-3-8B-Instruct"]);
    expect(ok("meta-llama/Meta-Llama-3-8B-Instruct")).toBe(true);
    expect(ok("meta-llama/Meta-Llama-3-8B-Instruct-v2")).toBe(false);
    expect(ok("x-meta-llama/Meta-Llama-3-8B-Instruct")).toBe(false);
  });

  test("* is any run of characters, none included, and crosses '/'", () => {
    const ok = compileModelGlobs(["gpt-4o*"]);
    expect(ok("gpt-4o")).toBe(true);
    expect(ok("gpt-4o-mini")).toBe(true);
    expect(ok("gpt-4")).toBe(false);
    expect(ok("xgpt-4o")).toBe(false);
    expect(compileModelGlobs(["meta-llama/*"])("meta-llama/a/b")).toBe(true);
    expect(compileModelGlobs(["*-instruct"])("llama-3-instruct")).toBe(true);
    expect(compileModelGlobs(["*-instruct"])("llama-3-instruct-v2")).toBe(false);
  });

  test("? is exactly one character", () => {
    const ok = compileModelGlobs(["llama-3-?b"]);
    expect(ok("llama-3-8b")).toBe(true);
    expect(ok("llama-3-b")).toBe(false);
    expect(ok("llama-3-70b")).toBe(false);
  });

  test("'.' and regex characters are literal", () => {
    const ok = compileModelGlobs(["gpt-3.5-turbo", "a+b(c)[d]{e}|^$\\"]);
    expect(ok("gpt-3.5-turbo")).toBe(true);
    expect(ok("gpt-3x5-turbo")).toBe(false);
    expect(ok("a+b(c)[d]{e}|^$\\")).toBe(true);
    expect(ok("aab(c)[d]{e}|^$\\")).toBe(false);
    expect(compileModelGlobs(["v1.*"])("v1x2")).toBe(false);
  });

  test("several stars and pieces find their places left to right", () => {
    const ok = compileModelGlobs(["*a*b*c"]);
    expect(ok("abc")).toBe(true);
    expect(ok("xxaxxbxxc")).toBe(true);
    expect(ok("cba")).toBe(false);
    expect(ok("abcb")).toBe(false);
    expect(compileModelGlobs(["a*a"])("a")).toBe(false);
    expect(compileModelGlobs(["a*a"])("aa")).toBe(true);
    expect(compileModelGlobs(["a?*?a"])("abba")).toBe(true);
    expect(compileModelGlobs(["a?*?a"])("aba")).toBe(false);
    expect(compileModelGlobs(["**"])("anything")).toBe(true);
  });

  test("any of several globs", () => {
    const ok = compileModelGlobs(["gpt-4o*", "llama-*", "claude-3-haiku"]);
    expect(["gpt-4o-mini", "llama-3", "claude-3-haiku", "claude-3-opus"].map(ok)).toEqual([true, true, true, false]);
  });

  test("a long crafted name against a many-star pattern answers at once (no backtracking)", () => {
    const ok = compileModelGlobs(["*a*a*a*a*a*a*b"]);
    const started = performance.now();
    expect(ok("a".repeat(100_000))).toBe(false);
    expect(performance.now() - started).toBeLessThan(500);
  });
});

describe("globProblem", () => {
  test("good patterns", () => {
    for (const g of ["*", "gpt-4o*", "meta-llama/Meta-Llama-3-8B-Instruct", "llama-3-?b"]) expect(globProblem(g)).toBeNull();
  });
  test("bad patterns say why", () => {
    expect(globProblem("")).toBe("a model pattern is empty");
    expect(globProblem(" gpt-4o")).toBe('model pattern " gpt-4o" starts or ends with a space');
    expect(globProblem("gpt\t4o")).toBe('model pattern "gpt\\t4o" contains a control character');
    expect(globProblem("x".repeat(300))).toBe('model pattern "xxxxxxxxxxxxxxxxxxxx..." is longer than 256 characters');
  });
});
