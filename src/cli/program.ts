import { Command } from "commander";
import { registerVersion, VERSION } from "./version.ts";
import { registerServe } from "./serve.ts";
import { registerValidate } from "./validate.ts";
import { registerMock } from "./mock.ts";
import { registerKeys } from "./keys.ts";
import { registerUsage } from "./usage.ts";
import { registerBench } from "./bench.ts";

const EXIT_HELP = `
Exit codes:
  0  success (also after a graceful shutdown on SIGTERM/SIGINT)
  1  invalid input (a config, a flag value, an unknown id), or the operation failed
  2  a command line that cannot be read (unknown command or option, missing
     argument), or a file named on it that cannot be read`;

/** The whole CLI. cmd/llmproxy.ts only runs it. */
export function buildProgram(): Command {
  const program = new Command("llmproxy")
    .description("llmproxy: a fast LLM gateway (keys, quotas, routing, failover, exact usage metering)")
    .version(VERSION, "-V, --version", "print the version")
    .option("--debug", "print stack traces with errors")
    // Set before the subcommands exist: commander copies it only into commands created
    // after it, and a subcommand without it exits 1 on a bad command line instead of 2.
    .exitOverride()
    .configureOutput({ outputError: (str, write) => write(str.replace(/^error: /, "llmproxy: ")) })
    .showHelpAfterError("(run with --help for usage)")
    .addHelpText("after", EXIT_HELP);
  registerServe(program);
  registerValidate(program);
  registerKeys(program);
  registerUsage(program);
  registerMock(program);
  registerBench(program);
  registerVersion(program);
  return program;
}
