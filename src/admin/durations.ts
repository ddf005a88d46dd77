// Durations in admin API bodies: the config's units ("1h", "30m"), or 0.

import { GatewayError } from "../errors.ts";
import { DURATION_HINT, parseDuration } from "../config/units.ts";

export function durationFlagValue(field: string, v: unknown): number {
  if (v === 0 || v === "0") return 0;
  const ms = typeof v === "string" ? parseDuration(v) : null;
  if (ms === null) throw new GatewayError("invalid_request", `${field}: bad duration ${JSON.stringify(v)}: ${DURATION_HINT}`);
  return ms;
}
