// The config schema's custom formats (`"format": "duration"` and friends), in one place:
// scripts/gen-config-validator.ts registers them with ajv to generate the validator, and
// the generated validator calls these same functions at run time.

import { httpUrlProblem } from "./http-url.ts";
import { listenProblem } from "./listen.ts";
import { parseDuration, parseSize } from "./units.ts";

export interface FormatDefinition {
  type: "string";
  validate(s: string): boolean;
}

export const CONFIG_FORMATS: Record<string, FormatDefinition> = {
  duration: { type: "string", validate: (s) => parseDuration(s) !== null },
  size: { type: "string", validate: (s) => parseSize(s) !== null },
  listen: { type: "string", validate: (s) => listenProblem(s) === null },
  "http-url": { type: "string", validate: (s) => httpUrlProblem(s) === null },
};
