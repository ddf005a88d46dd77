// npm run build: the single executable dist/llmproxy (bun build --compile).
// The tokenizer for usage estimates is bundled in, so the binary needs no files beside it.

import { $ } from "bun";
import { mkdirSync } from "node:fs";

mkdirSync("dist", { recursive: true });
const started = performance.now();
// --minify keeps the bundle and its start-up small; --bytecode precompiles it so the
// daemon starts without parsing (see the README's Performance section for the numbers).
// The metering worker is a second entry point: a Worker's script must be part of the
// executable to be found at run time.
await $`bun build --compile --minify --bytecode --format=esm cmd/llmproxy.ts src/metering/usage-worker.ts --outfile dist/llmproxy`.quiet();
const size = Bun.file("dist/llmproxy").size;
console.log(`dist/llmproxy: ${(size / 1048576).toFixed(1)} MiB in ${((performance.now() - started) / 1000).toFixed(1)} s`);
