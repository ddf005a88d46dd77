// The admin API as tests use it to set up keys, and the daemon config of the key tests.

import { expect } from "bun:test";

export interface CreatedKey {
  id: string;
  prefix: string;
  secret: string;
}

/** POST /admin/keys with the admin token; the new key (its secret shown this once). */
export async function adminCreateKey(baseUrl: string, adminToken: string, body: Record<string, unknown>): Promise<CreatedKey> {
  const res = await fetch(`${baseUrl}/admin/keys`, {
    method: "POST",
    headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  expect(res.status).toBe(201);
  return (await res.json()) as CreatedKey;
}

/**
 * A daemon with keys on: its database beside the config (keys.db), the admin API open
 * with `adminToken`, debug logs (key reloads and refreshes show), two models routed to
 * one OpenAI-compatible backend, no retries.
 */
export function keysConfig(backendUrl: string, adminToken: string): string {
  return `auth: keys
database: keys.db
admin_token: ${adminToken}
log: { level: debug }
backends:
  - { name: vllm, provider: openai, url: ${backendUrl} }
models:
  - { name: llama, targets: [{ backend: vllm }] }
  - { name: gpt-4o, targets: [{ backend: vllm }] }
retries: { attempts: 0 }
`;
}
