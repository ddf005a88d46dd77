// What the key store refuses, each with a stable code the CLI and the admin API decide
// on (never the message text): an unknown id is exit 1 / 404, bad input exit 1 / 400.

export type StoreErrorCode = "key_not_found" | "key_revoked" | "invalid_key_input";

export class StoreError extends Error {
  readonly code: StoreErrorCode;
  constructor(code: StoreErrorCode, message: string) {
    super(message);
    this.name = "StoreError";
    this.code = code;
  }
}

export class KeyNotFoundError extends StoreError {
  readonly id: string;
  constructor(id: string) {
    super("key_not_found", `no key with id ${JSON.stringify(id)}`);
    this.name = "KeyNotFoundError";
    this.id = id;
  }
}

/** Rotating a revoked key would bring it back to life; create a new key instead. */
export class KeyRevokedError extends StoreError {
  readonly id: string;
  constructor(id: string) {
    super("key_revoked", `key ${id} is revoked and cannot be rotated; create a new key instead`);
    this.name = "KeyRevokedError";
    this.id = id;
  }
}

/** A NewKey or KeyPatch that breaks a rule; problems name the field ("limits.rpm: ..."). */
export class InvalidKeyInputError extends StoreError {
  readonly problems: string[];
  constructor(problems: string[]) {
    super("invalid_key_input", problems.join("; "));
    this.name = "InvalidKeyInputError";
    this.problems = problems;
  }
}
