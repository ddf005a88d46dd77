import { existsSync } from "node:fs";
import type { Command } from "commander";
import { runDaemon } from "../daemon/daemon.ts";
import { CliError, EXIT } from "./exit.ts";
import { edges } from "../edges/edges.ts";
import { listenFlag } from "./flags.ts";
import { defaultConfigPath } from "./validate.ts";

interface ServeOptions {
  config?: string;
  demo?: boolean;
  listen?: string;
}

export function registerServe(program: Command): void {
  program
    .command("serve")
    .description("run the gateway daemon (reloads its config on change, SIGHUP or POST /admin/reload; drains on SIGTERM/SIGINT)")
    .option("-c, --config <file>", "config file (default: $LLMPROXY_CONFIG, else ./llmproxy.yaml)")
    .option("--demo", "serve the built-in demo: a mock LLM backend, no config file needed")
    .option("--listen <addr>", "listen on this host:port instead of the config's listen (port 0 picks a free port)")
    .addHelpText(
      "after",
      `
Examples:
  llmproxy serve --demo
  llmproxy serve -c /etc/llmproxy/llmproxy.yaml
  LLMPROXY_CONFIG=./llmproxy.yaml llmproxy serve`,
    )
    .action(async (opts: ServeOptions) => {
      let file: string | null = null;
      if (!opts.demo) {
        file = opts.config ?? defaultConfigPath();
        if (!opts.config && !process.env.LLMPROXY_CONFIG && !existsSync(file)) {
          throw new CliError("no config: ./llmproxy.yaml does not exist; pass -c FILE, set LLMPROXY_CONFIG, or try --demo", EXIT.USAGE);
        }
      } else if (opts.config) {
        throw new CliError("--demo and --config exclude each other: the demo has its own built-in config", EXIT.USAGE);
      }
      // A bad --listen is a bad command line (exit 2), checked before any config is read;
      // the demo would otherwise report it as an invalid config (exit 1).
      if (opts.listen !== undefined) listenFlag("--listen", opts.listen);
      // Before any work: Bun's 256-concurrent-fetch cap is lifted and its heap floor
      // lowered (re-execs once).
      edges.prepareDaemon();
      const code = await runDaemon({ file, demo: opts.demo === true, listen: opts.listen ?? null });
      process.exit(code);
    });
}
