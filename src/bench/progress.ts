// The line that says which phase runs, on a terminal only: rewritten in place, and gone
// before the results print. Piped or redirected output gets no progress at all, so that
// stderr stays clean for scripts.

import type { Progress } from "./measure.ts";

export interface ProgressLine {
  update: Progress;
  /** Erase the line (before the results, or an error). */
  clear(): void;
}

const ERASE = "\r\x1b[2K";

export function progressLine(enabled: boolean, stream: NodeJS.WriteStream = process.stderr): ProgressLine {
  if (!enabled) return { update: () => {}, clear: () => {} };
  let shown = false;
  return {
    update(step, steps, phase, target) {
      const width = stream.columns || 80; // 0 on a terminal of unknown size
      stream.write(`${ERASE}llmproxy bench [${step}/${steps}] ${phase}: ${target}`.slice(0, width + ERASE.length - 1));
      shown = true;
    },
    clear() {
      if (shown) stream.write(ERASE);
      shown = false;
    },
  };
}
