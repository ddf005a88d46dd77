// Request ids: the client's own x-request-id when it is a sane token (so ids can be
// followed across systems), otherwise a new one. New ids are a per-process random
// prefix plus a counter: unique, ordered within a process, and far cheaper than a UUID.

import { randomBytes } from "node:crypto";

const PREFIX = randomBytes(6).toString("hex");
let counter = 0;
const SANE = /^[A-Za-z0-9._:\/+=@-]{1,128}$/;

export function newRequestId(given: string | null): string {
  if (given !== null && SANE.test(given)) return given;
  return `${PREFIX}-${(++counter).toString(36)}`;
}
