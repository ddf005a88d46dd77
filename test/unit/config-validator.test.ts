import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { GENERATED, generateValidator } from "../../scripts/gen-config-validator.ts";

test("the committed config validator is what the schema compiles to (run bun scripts/gen-config-validator.ts after a schema change)", () => {
  expect(readFileSync(GENERATED, "utf8")).toBe(generateValidator());
});

import ucs2length from "../../src/config/ucs2length.ts";

test("ucs2length counts code points, a surrogate pair as one", () => {
  expect(ucs2length("")).toBe(0);
  expect(ucs2length("abc")).toBe(3);
  expect(ucs2length("a😀b")).toBe(3);
  expect(ucs2length("\ud800x")).toBe(2); // a lone high surrogate is one character
});
