// Ctrl-C (or SIGTERM, SIGHUP) during a benchmark: the run ends with an error once what
// it started is stopped; a second signal, or one during that cleanup, kills it all at
// once and exits.

import type { Cleanup } from "./cleanup.ts";

export interface Interruption {
  /** Rejects with the error `interrupted(signal)` makes, on the first signal. */
  interrupted: Promise<never>;
  /** The run is over (results or error): a signal from now on means "hurry". */
  settle(): void;
  /** Remove the handlers (after the cleanup). */
  dispose(): void;
}

const SIGNALS: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];

export function interruption(cleanup: Cleanup, interrupted: (signal: NodeJS.Signals) => Error, exitCode: number): Interruption {
  let reject: (err: Error) => void = () => {};
  const promise = new Promise<never>((_, r) => (reject = r));
  let settled = false;
  const on = (signal: NodeJS.Signals): void => {
    if (settled) {
      cleanup.runNow();
      process.exit(exitCode);
    }
    settled = true;
    reject(interrupted(signal));
  };
  for (const s of SIGNALS) process.on(s, on);
  return {
    interrupted: promise,
    settle: () => {
      settled = true;
    },
    dispose: () => {
      for (const s of SIGNALS) process.off(s, on);
    },
  };
}
