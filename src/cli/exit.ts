// Exit codes, documented in the README ("Exit codes") and `llmproxy --help`.
export const EXIT = {
  /** Success; also a graceful shutdown after SIGTERM/SIGINT. */
  OK: 0,
  /** Invalid input (a config, a flag value, an unknown key id), or the operation failed. */
  FAILURE: 1,
  /** A command line that cannot be read (unknown command or option, missing argument), or a file named on it that cannot be read. */
  USAGE: 2,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** An error meant for the operator: printed as one line on stderr, no stack unless --debug. */
export class CliError extends Error {
  readonly exitCode: ExitCode;
  constructor(message: string, exitCode: ExitCode = EXIT.FAILURE) {
    super(message);
    this.name = "CliError";
    this.exitCode = exitCode;
  }
}
