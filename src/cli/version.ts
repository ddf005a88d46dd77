import type { Command } from "commander";
import pkg from "../../package.json" with { type: "json" };
import { edges } from "../edges/edges.ts";

export const VERSION: string = pkg.version;

export function registerVersion(program: Command): void {
  program
    .command("version")
    .description("print the version of llmproxy and of the runtime it runs on")
    .option("--json", "print as JSON")
    .action((opts: { json?: boolean }) => {
      const runtime = edges.runtime;
      if (opts.json) console.log(JSON.stringify({ version: VERSION, runtime, platform: `${process.platform}-${process.arch}` }));
      else console.log(`llmproxy ${VERSION} (${runtime}, ${process.platform}-${process.arch})`);
    });
}
