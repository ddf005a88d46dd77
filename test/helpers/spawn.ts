// How end-to-end tests start llmproxy: the compiled executable when LLMPROXY_BIN names
// one (CI tests what it ships), else the sources under the current runtime.

import { fileURLToPath } from "node:url";

const ENTRY = fileURLToPath(new URL("../../cmd/llmproxy.ts", import.meta.url));

/** The argv that runs `llmproxy ...args`. */
export function llmproxyCommand(args: string[]): string[] {
  const bin = process.env.LLMPROXY_BIN;
  return bin ? [bin, ...args] : [process.execPath, ENTRY, ...args];
}
