// Virtual key secrets: "sk-llmp-" + 32 base62 characters (190 bits from the system's
// CSPRNG). Only the SHA-256 of a secret is ever stored; a fast unsalted hash is right
// here because the secret is random and long, not a password (nothing to brute-force).

import { randomBytes } from "node:crypto";
import { edges } from "../edges/edges.ts";

export const SECRET_PREFIX = "sk-llmp-";
/** Random characters after the prefix: 32 × log2(62) ≈ 190 bits. */
export const SECRET_RANDOM_LENGTH = 32;
/** Characters of the random part kept in the clear as the key's prefix. */
const SHOWN_CHARS = 6;

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const SECRET_RE = new RegExp(`^${SECRET_PREFIX}[0-9A-Za-z]{${SECRET_RANDOM_LENGTH}}$`);

/** A new secret. Each character is uniform: bytes >= 248 are dropped, not folded (no modulo bias). */
export function generateSecret(): string {
  let out = SECRET_PREFIX;
  while (out.length < SECRET_PREFIX.length + SECRET_RANDOM_LENGTH) {
    for (const byte of randomBytes(SECRET_RANDOM_LENGTH + 8)) {
      if (byte >= 248) continue;
      out += BASE62[byte % 62];
      if (out.length === SECRET_PREFIX.length + SECRET_RANDOM_LENGTH) break;
    }
  }
  return out;
}

// the runtime's fastest SHA-256 (src/edges): this runs on every request
const sha256Hex = edges.sha256Hex;

/** sha256 hex of the secret as presented: what the store keeps and looks keys up by. */
export function hashSecret(secret: string): string {
  return sha256Hex(secret);
}

/** "sk-llmp-" + the first 6 random characters: enough to recognize a key, useless to use it. */
export function secretPrefix(secret: string): string {
  return secret.slice(0, SECRET_PREFIX.length + SHOWN_CHARS);
}

/** Has the shape of a secret this gateway issues (not whether it is valid). */
export function looksLikeSecret(s: string): boolean {
  return SECRET_RE.test(s);
}
