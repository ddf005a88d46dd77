// Types of the generated validator (config-validator.generated.js).
import type { ValidateFunction } from "ajv";
declare const validate: ValidateFunction;
export default validate;
