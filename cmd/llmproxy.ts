#!/usr/bin/env bun
// The llmproxy executable: the CLI and the daemon. Everything lives in src/cli.
import { CommanderError } from "commander";
import { buildProgram } from "../src/cli/program.ts";
import { CliError, EXIT } from "../src/cli/exit.ts";

const program = buildProgram();
const debug = process.argv.includes("--debug");

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // help and version "errors" are normal exits; commander already printed the message.
    process.exit(err.exitCode === 0 ? EXIT.OK : EXIT.USAGE);
  }
  const code = err instanceof CliError ? err.exitCode : EXIT.FAILURE;
  const msg = err instanceof Error ? err.message : String(err);
  process.stderr.write(`llmproxy: ${msg}\n`);
  if (debug && err instanceof Error && err.stack) process.stderr.write(err.stack + "\n");
  process.exit(code);
}
