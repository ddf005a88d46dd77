// npm run build: the two shipped forms of llmproxy.
//  - dist/llmproxy: the single executable (bun build --compile), Bun's runtime inside.
//  - dist/llmproxy.mjs (+ dist/usage-worker.mjs, the metering thread): the Node 20+
//    bundle that package.json's `bin` points at, for `npx llmproxy` without Bun.
// Each build takes only its own runtime's edges (the conditional "#runtime-edges"
// import, src/edges/edges.ts): the executable holds no undici, the Node bundle no
// bun:sqlite. Everything but better-sqlite3 (a native addon, loaded from node_modules when a database is opened)
// is bundled in, the tokenizer for usage estimates included.

import { $ } from "bun";
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";

const WORKERS = ["src/metering/usage-worker.ts"];

function mib(path: string): string {
  return `${(Bun.file(path).size / 1048576).toFixed(1)} MiB`;
}

async function timed(what: string, fn: () => Promise<void>): Promise<void> {
  const started = performance.now();
  await fn();
  console.log(`${what} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

mkdirSync("dist", { recursive: true });

await timed("dist/llmproxy", async () => {
  // --minify keeps the bundle and its start-up small; --bytecode precompiles it so the
  // daemon starts without parsing (see the README's Performance section for the numbers).
  // A Worker's script must be an entry point of its own to be found at run time.
  await $`bun build --compile --minify --bytecode --format=esm cmd/llmproxy.ts ${WORKERS} --outfile dist/llmproxy`.quiet();
  process.stdout.write(`dist/llmproxy: ${mib("dist/llmproxy")} `);
});

await timed("dist/llmproxy.mjs", async () => {
  rmSync("dist/node", { recursive: true, force: true });
  // Node runs ESM with top-level await (src/edges/edges.ts); not minified, so that a
  // stack trace from a user's Node names real functions.
  await $`bun build --target=node --format=esm --external better-sqlite3 --entry-naming [name].mjs --outdir dist/node cmd/llmproxy.ts ${WORKERS}`.quiet();
  // the entry's own "#!/usr/bin/env bun" line is replaced: this file is Node's
  const main = readFileSync("dist/node/llmproxy.mjs", "utf8").replace(/^#!.*\n/, "");
  writeFileSync("dist/llmproxy.mjs", `#!/usr/bin/env node\n${main}`);
  chmodSync("dist/llmproxy.mjs", 0o755);
  for (const w of WORKERS) {
    const name = w.replace(/^.*\//, "").replace(/\.ts$/, ".mjs");
    writeFileSync(`dist/${name}`, readFileSync(`dist/node/${name}`));
  }
  rmSync("dist/node", { recursive: true, force: true });
  process.stdout.write(`dist/llmproxy.mjs: ${mib("dist/llmproxy.mjs")} `);
});
