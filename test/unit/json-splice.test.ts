import { describe, expect, test } from "bun:test";
import { findTopLevelMember, prependTopLevelMember, replaceTopLevelValue } from "../../src/proxy/json-splice.ts";

describe("findTopLevelMember", () => {
  test("finds a top-level key and not the same key nested deeper", () => {
    const text = '{"messages":[{"model":"inner","content":"say \\"model\\":1"}],"model":"gpt-x","n":1}';
    const span = findTopLevelMember(text, "model")!;
    expect(text.slice(span.valueStart, span.valueEnd)).toBe('"gpt-x"');
  });

  test("takes the last of duplicate keys, as JSON.parse does", () => {
    const text = '{"model":"a","model":"b"}';
    const span = findTopLevelMember(text, "model")!;
    expect(text.slice(span.valueStart, span.valueEnd)).toBe('"b"');
    expect(JSON.parse(text).model).toBe("b");
  });

  test("handles whitespace, escaped keys, nested arrays and strings with braces", () => {
    const text = ' {\n  "tools" : [ {"a": "}]{["} ] ,\n  "mo\\u0064el" :\t"x" }';
    const span = findTopLevelMember(text, "model")!;
    expect(text.slice(span.valueStart, span.valueEnd)).toBe('"x"');
  });

  test("returns null when absent, or for a non-object", () => {
    expect(findTopLevelMember('{"a":{"model":1}}', "model")).toBeNull();
    expect(findTopLevelMember("[1,2]", "model")).toBeNull();
  });

  test("strings ending in escaped backslashes are skipped correctly", () => {
    const text = '{"a":"x\\\\","model":"m"}';
    const span = findTopLevelMember(text, "model")!;
    expect(text.slice(span.valueStart, span.valueEnd)).toBe('"m"');
  });
});

describe("edits keep every other byte", () => {
  test("replacing a value leaves numbers, spacing and order as sent", () => {
    const text = '{"temperature": 1.0, "model": "alias", "big": 12345678901234567890, "x": [1.50]}';
    const out = replaceTopLevelValue(text, findTopLevelMember(text, "model")!, '"real/model"');
    expect(out).toBe('{"temperature": 1.0, "model": "real/model", "big": 12345678901234567890, "x": [1.50]}');
  });

  test("prepending a member to an object and to an empty object", () => {
    expect(prependTopLevelMember('{"a":1}', "s", "true")).toBe('{"s":true,"a":1}');
    expect(prependTopLevelMember("{ }", "s", "true")).toBe('{"s":true }');
    expect(JSON.parse(prependTopLevelMember('  {\n"a":1}', "s", "{}"))).toEqual({ s: {}, a: 1 });
  });
});
