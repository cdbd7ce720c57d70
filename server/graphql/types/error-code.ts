import { registerEnumType } from "type-graphql";
import { ERROR_CODE_MEANINGS, ERROR_CODES, type ErrorCode as ErrorCodeValue } from "../../core/errors.js";

/**
 * The closed set of error codes as a schema enum, so generated clients get them typed. Its values
 * equal the core's codes, so a service's code passes to the API unchanged.
 */
export const ErrorCode = Object.fromEntries(ERROR_CODES.map((code) => [code, code])) as { readonly [C in ErrorCodeValue]: C };

registerEnumType(ErrorCode, {
  name: "ErrorCode",
  description:
    "Every code a refusal can carry: the value of `extensions.code` on each error (GraphQL errors and the error bodies of the HTTP routes alike) and of `UsageError.code` in a batch result. `UsageAuthorization.code` names one of them when a call may not start.",
  valuesConfig: Object.fromEntries(ERROR_CODES.map((code) => [code, { description: ERROR_CODE_MEANINGS[code] }])),
});
