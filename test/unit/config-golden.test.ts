// Golden fixtures: YAML in, normalized config or issue lines out (see
// test/fixtures/config/README.md). UPDATE_GOLDEN=1 rewrites the expected files.

import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { formatIssue } from "../../src/config/format.ts";
import { loadConfigFile } from "../../src/config/load.ts";

const ROOT = fileURLToPath(new URL("../fixtures/config/", import.meta.url));
const ENV = { FIXTURE_API_KEY: "sk-fixture", FIXTURE_ADMIN_TOKEN: "admin-fixture", FIXTURE_EMPTY: "" };
const UPDATE = process.env.UPDATE_GOLDEN === "1";

const yamlFiles = (dir: string) => readdirSync(join(ROOT, dir)).filter((f) => f.endsWith(".yaml")).sort();

function golden(path: string, actual: string): void {
  if (UPDATE || !existsSync(path)) writeFileSync(path, actual);
  expect(actual).toBe(readFileSync(path, "utf8"));
}

describe("valid configs normalize to the expected config", () => {
  for (const name of yamlFiles("valid")) {
    test(name, async () => {
      const r = await loadConfigFile(join(ROOT, "valid", name), ENV);
      if (!r.ok) throw new Error(r.issues.map((i) => formatIssue(name, i)).join("\n"));
      // the database path is resolved beside the config file: show it relative to the fixtures
      const text = JSON.stringify(r.loaded.config, null, 2).replaceAll(JSON.stringify(join(ROOT, "valid")).slice(1, -1), "<fixtures>");
      golden(join(ROOT, "valid", name.replace(/\.yaml$/, ".json")), text + "\n");
    });
  }
});

describe("invalid configs give the expected issues", () => {
  for (const name of yamlFiles("invalid")) {
    test(name, async () => {
      const r = await loadConfigFile(join(ROOT, "invalid", name), ENV);
      expect(r.ok).toBe(false);
      if (r.ok) return;
      golden(join(ROOT, "invalid", name.replace(/\.yaml$/, ".errors")), r.issues.map((i) => formatIssue(name, i) + "\n").join(""));
    });
  }
});

test("every fixture has its expected file", () => {
  for (const [dir, ext] of [["valid", ".json"], ["invalid", ".errors"]] as const) {
    for (const name of yamlFiles(dir)) expect(existsSync(join(ROOT, dir, name.replace(/\.yaml$/, ext)))).toBe(true);
  }
});
