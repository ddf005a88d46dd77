import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { generateSecret, hashSecret, looksLikeSecret, SECRET_RANDOM_LENGTH, secretPrefix } from "../../src/auth/key-secret.ts";

describe("key secrets", () => {
  test('"sk-llmp-" and 32 base62 characters, always the same length', () => {
    for (let i = 0; i < 200; i++) {
      const s = generateSecret();
      expect(s).toMatch(/^sk-llmp-[0-9A-Za-z]{32}$/);
      expect(looksLikeSecret(s)).toBe(true);
    }
  });

  test("at least 128 bits of randomness", () => {
    expect(SECRET_RANDOM_LENGTH * Math.log2(62)).toBeGreaterThanOrEqual(128);
  });

  test("no two alike, and every base62 character turns up (no alphabet left out)", () => {
    const secrets = Array.from({ length: 2000 }, generateSecret);
    expect(new Set(secrets).size).toBe(secrets.length);
    const seen = new Set(secrets.map((x) => x.slice(8)).join(""));
    for (const c of "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") expect(seen.has(c)).toBe(true);
  });

  test("the hash is the sha256 hex of the secret as given", () => {
    const s = generateSecret();
    expect(hashSecret(s)).toBe(createHash("sha256").update(s).digest("hex"));
    // the FIPS 180-2 test vector
    expect(hashSecret("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect(hashSecret(s)).toMatch(/^[0-9a-f]{64}$/);
  });

  test("the prefix is sk-llmp- and the first 6 random characters", () => {
    expect(secretPrefix("sk-llmp-AbC123xyzxyzxyzxyzxyzxyzxyzxyzxy")).toBe("sk-llmp-AbC123");
  });

  test("looksLikeSecret refuses other shapes", () => {
    for (const s of ["", "sk-llmp-", "sk-llmp-short", "sk-proj-" + "a".repeat(32), "sk-llmp-" + "a".repeat(31) + "!", "sk-llmp-" + "a".repeat(33)]) {
      expect(looksLikeSecret(s)).toBe(false);
    }
  });
});
