// The variables a proxying process re-executes itself with under Bun
// (src/runtime/start-env-bun.ts): the missing ones at their defaults, the operator's own
// values kept. The re-exec itself is checked on the real process by
// test/e2e/cli-serve.test.ts.

import { describe, expect, test } from "bun:test";
import { FETCH_CAP, reexecArgv, START_HEAP_BYTES, startEnv } from "../../src/runtime/start-env-bun.ts";

describe("startEnv", () => {
  test("an environment without them gets both", () => {
    expect(startEnv({ PATH: "/usr/bin" })).toEqual({ BUN_CONFIG_MAX_HTTP_REQUESTS: FETCH_CAP, BUN_JSC_largeHeapSize: START_HEAP_BYTES });
  });

  test("the operator's values win, and a complete environment needs no re-exec", () => {
    expect(startEnv({ BUN_JSC_largeHeapSize: "33554432" })).toEqual({ BUN_CONFIG_MAX_HTTP_REQUESTS: FETCH_CAP });
    expect(startEnv({ BUN_CONFIG_MAX_HTTP_REQUESTS: "512" })).toEqual({ BUN_JSC_largeHeapSize: START_HEAP_BYTES });
    expect(startEnv({ BUN_CONFIG_MAX_HTTP_REQUESTS: "512", BUN_JSC_largeHeapSize: "1048576" })).toEqual({});
  });

  test("an empty value counts as unset", () => {
    expect(startEnv({ BUN_CONFIG_MAX_HTTP_REQUESTS: "", BUN_JSC_largeHeapSize: "" })).toEqual({ BUN_CONFIG_MAX_HTTP_REQUESTS: FETCH_CAP, BUN_JSC_largeHeapSize: START_HEAP_BYTES });
  });

  test("the defaults are what the comments say", () => {
    expect(FETCH_CAP).toBe("65535");
    expect(START_HEAP_BYTES).toBe(String(4 * 1024 * 1024));
  });
});

describe("reexecArgv", () => {
  test("under bun: the runtime's flags, the script and its arguments", () => {
    expect(reexecArgv("/usr/bin/bun", ["/usr/bin/bun", "/app/cmd/llmproxy.ts", "serve", "-c", "x.yaml"], ["--smol"])).toEqual(["/usr/bin/bun", "--smol", "/app/cmd/llmproxy.ts", "serve", "-c", "x.yaml"]);
  });

  test("a compiled executable: only the command's arguments (it adds its embedded entry and built-in flags itself)", () => {
    expect(reexecArgv("/opt/llmproxy", ["/opt/llmproxy", "/$bunfs/root/llmproxy", "serve", "--demo"], ["--smol"])).toEqual(["/opt/llmproxy", "serve", "--demo"]);
  });
});
