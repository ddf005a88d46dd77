// The admin API as tests use it to set up keys.

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
