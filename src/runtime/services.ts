// What outlives a config: the logger, per-backend state, usage recording. A runtime is
// built with these and disposed without touching them.

import type { KeyService } from "../auth/key-service.ts";
import { RateLimiter } from "../limits/limiter.ts";
import type { Logger } from "../log/logger.ts";
import { UsageRecorder } from "../metering/recorder.ts";
import { BackendStateRegistry } from "../routing/backend-state.ts";
import { InFlightRegistry } from "./in-flight.ts";

export interface Services {
  readonly log: Logger;
  readonly states: BackendStateRegistry;
  readonly usage: UsageRecorder;
  /** Rate-limit state (buckets, in-flight counts), kept across reloads. */
  readonly limiter: RateLimiter;
  /** The key index and quota ledger; null when no key store is open (tests, tools). */
  keys: KeyService | null;
  /** Every request in progress, so a shutdown can cut them with a reason. */
  readonly inFlight: InFlightRegistry;
}

export function createServices(log: Logger, keys: KeyService | null = null): Services {
  return { log, states: new BackendStateRegistry(), usage: new UsageRecorder(log), limiter: new RateLimiter(), keys, inFlight: new InFlightRegistry() };
}
