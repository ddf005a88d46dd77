// How end-to-end tests start llmproxy: the shipped build when LLMPROXY_BIN names one (CI
// tests what it ships: the Bun executable dist/llmproxy, then the Node bundle
// dist/llmproxy.mjs, run by its `#!/usr/bin/env node` line), else the sources under
// the current runtime.

import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const ENTRY = fileURLToPath(new URL("../../cmd/llmproxy.ts", import.meta.url));

/** The argv that runs `llmproxy ...args`. */
export function llmproxyCommand(args: string[]): string[] {
  const bin = process.env.LLMPROXY_BIN;
  return bin ? [bin, ...args] : [process.execPath, ENTRY, ...args];
}

/** True when the llmproxy under test is the Node bundle. */
export function underNode(): boolean {
  return process.env.LLMPROXY_BIN?.endsWith(".mjs") ?? false;
}

/** What `llmproxy version` must name as its runtime: "bun 1.4.5" or "node 20.20.2". */
export function runtimeUnderTest(): string {
  if (!underNode()) return `bun ${Bun.version}`;
  return `node ${execFileSync("node", ["--version"], { encoding: "utf8" }).trim().replace(/^v/, "")}`;
}
