// Parsers for command-line flag values, on top of the config's own unit parsers so that
// a duration or an address means the same on the command line as in the YAML. A value
// that does not parse is invalid input (exit 1), like an invalid config; exit 2 is kept
// for a command line commander cannot read (unknown option, missing argument) and for
// files that cannot be read.

import { LISTEN_HINT, listenProblem, parseListen } from "../config/listen.ts";
import type { ListenAddress } from "../config/types.ts";
import { DURATION_HINT, parseDuration } from "../config/units.ts";
import { CliError, EXIT } from "./exit.ts";

/** "500ms", "1s", "2m"; a bare "0" is allowed too (no unit needed for nothing). */
export function durationFlag(flag: string, value: string): number {
  if (value === "0") return 0;
  const ms = parseDuration(value);
  if (ms === null) throw new CliError(`${flag}: bad duration "${value}": ${DURATION_HINT}`, EXIT.FAILURE);
  return ms;
}

export function wholeNumberFlag(flag: string, value: string): number {
  if (!/^\d{1,9}$/.test(value)) throw new CliError(`${flag} must be a whole number >= 0, got "${value}"`, EXIT.FAILURE);
  return Number(value);
}

export function listenFlag(flag: string, value: string): ListenAddress {
  const address = parseListen(value);
  if (!address) throw new CliError(`${flag}: bad address "${value}": ${listenProblem(value) ?? LISTEN_HINT}`, EXIT.FAILURE);
  return address;
}
