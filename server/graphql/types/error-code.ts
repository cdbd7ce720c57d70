import { GraphQLEnumType } from "graphql";
import { ERROR_CODE_MEANINGS, ERROR_CODES } from "../../core/errors.js";

/**
 * The closed set of error codes as a schema enum, so generated clients get them typed. No field
 * returns it: `extensions.code` lives outside the schema and `UsageError.code` stays a String in
 * the contract, so it is added to the schema as a standalone type (type-graphql only emits enums
 * a field uses, hence graphql-js here).
 */
export const ErrorCodeEnum = new GraphQLEnumType({
  name: "ErrorCode",
  description:
    "Every code a refusal can carry: the value of `extensions.code` on each error (GraphQL errors and the error bodies of the HTTP routes alike) and of `UsageError.code` in a batch result. No field has this type; it is here so that generated clients get the closed set typed.",
  values: Object.fromEntries(ERROR_CODES.map((code) => [code, { value: code, description: ERROR_CODE_MEANINGS[code] }])),
});
