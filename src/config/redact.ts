// A config fit to show (GET /admin/config, logs of a reload): secrets replaced, the rest
// as loaded. api_key, admin_token and header values (which often carry credentials) are
// never returned or printed.

import type { Config } from "./types.ts";

export const REDACTED = "[redacted]";

export function redactConfig(config: Config): Config {
  return {
    ...config,
    adminToken: config.adminToken ? REDACTED : "",
    metering: {
      ...config.metering,
      webhook: config.metering.webhook
        ? { ...config.metering.webhook, secret: REDACTED, headers: Object.fromEntries(Object.keys(config.metering.webhook.headers).map((k) => [k, REDACTED])) }
        : null,
    },
    backends: config.backends.map((b) => ({
      ...b,
      apiKey: b.apiKey === undefined ? undefined : REDACTED,
      headers: Object.fromEntries(Object.keys(b.headers).map((k) => [k, REDACTED])),
    })),
  };
}
