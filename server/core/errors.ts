/**
 * The closed set of refusal codes of the public contract (shared api.md, "Errors").
 * Anything that is not a FlexgateError is unexpected and is masked at the GraphQL edge.
 */
export const ERROR_CODES = [
  "UNAUTHENTICATED",
  "FORBIDDEN",
  "NOT_FOUND",
  "BAD_USER_INPUT",
  "INSUFFICIENT_BALANCE",
  "ACCOUNT_RESTRICTED",
  "PRICE_NOT_FOUND",
  "PRICE_CHANGE_IN_PAST",
  "IDEMPOTENCY_CONFLICT",
  "CREDIT_SALES_ENDED",
  "RESELLER_NOT_FLEX_AUTHORIZED",
  "ESTORE_NOT_AVAILABLE",
  "QUERY_TOO_COMPLEX",
  "INTERNAL_SERVER_ERROR",
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** What a caller is told of an unexpected error; the details go to the log only. */
export const GENERIC_MESSAGE = "Something went wrong on our side. It has been logged; please try again.";

export class FlexgateError extends Error {
  override readonly name = "FlexgateError";

  constructor(
    readonly code: ErrorCode,
    message: string,
    /** The input field at fault, as a dotted path from the operation's arguments ("input.quantity"). */
    readonly field?: string,
  ) {
    super(message);
  }
}

export function badInput(field: string, message: string): FlexgateError {
  return new FlexgateError("BAD_USER_INPUT", message, field);
}

export function notFound(what: string, field?: string): FlexgateError {
  return new FlexgateError("NOT_FOUND", `${what} not found`, field);
}
