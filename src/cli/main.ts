// The CLI's run: parse the command line, run the command, turn errors into one line on
// stderr and an exit code. cmd/llmproxy.ts only calls this. (It lives here, not in the
// entry, because Bun's bundler for --target=node puts a second copy of a module into the
// bundle when the entry itself imports it: CliError from the entry then failed
// instanceof against the CliError the commands throw.)

import { CommanderError } from "commander";
import { CliError, EXIT } from "./exit.ts";
import { buildProgram } from "./program.ts";

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  const debug = argv.includes("--debug");
  try {
    await program.parseAsync(argv);
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
}
