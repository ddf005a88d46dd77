// What outlives a config: the logger, per-backend state, usage recording. A runtime is
// built with these and disposed without touching them.

import type { Logger } from "../log/logger.ts";
import { UsageRecorder } from "../metering/recorder.ts";
import { BackendStateRegistry } from "../routing/backend-state.ts";

export interface Services {
  readonly log: Logger;
  readonly states: BackendStateRegistry;
  readonly usage: UsageRecorder;
}

export function createServices(log: Logger): Services {
  return { log, states: new BackendStateRegistry(), usage: new UsageRecorder(log) };
}
