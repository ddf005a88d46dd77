// The benchmark is `llmproxy bench` now (src/cli/bench.ts); this wrapper keeps the old
// command working: `bun scripts/bench-proxy.ts [flags of llmproxy bench]` (npm run bench).
// As before, the processes measured are the built dist/llmproxy when it exists (the
// executable that ships), unless --bin or --target says otherwise.

import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../", import.meta.url));
const args = process.argv.slice(2);
const built = `${root}dist/llmproxy`;
const bin = !args.includes("--bin") && !args.includes("--target") && existsSync(built) ? ["--bin", built] : [];
const proc = Bun.spawn([process.execPath, `${root}cmd/llmproxy.ts`, "bench", ...bin, ...args], { stdin: "inherit", stdout: "inherit", stderr: "inherit" });
// Ctrl-C reaches the bench too (same process group): it stops what it started, then
// exits, and so does this. A signal sent to this process alone is passed on.
process.on("SIGINT", () => {});
for (const s of ["SIGTERM", "SIGHUP"] as const) process.on(s, () => proc.kill(s));
process.exitCode = await proc.exited;
