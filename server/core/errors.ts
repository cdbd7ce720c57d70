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
  "API_SUSPENDED",
  "PAYG_NOT_AVAILABLE",
  "QUERY_TOO_COMPLEX",
  "INTERNAL_SERVER_ERROR",
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** What a caller is told of an unexpected error; the details go to the log only. */
export const GENERIC_MESSAGE = "Something went wrong on our side. It has been logged; please try again.";

/** What each code tells a client; the schema's ErrorCode enum is built from this, so clients get the set typed. */
export const ERROR_CODE_MEANINGS: Readonly<Record<ErrorCode, string>> = {
  UNAUTHENTICATED: "No API key, or a key that is unknown or revoked.",
  FORBIDDEN: "The key's role may not do or read this.",
  NOT_FOUND: "No such entity, or one the key may not see (a partner gets this for another reseller's account).",
  BAD_USER_INPUT: "A value is malformed or out of range; extensions.field names it.",
  INSUFFICIENT_BALANCE: "A HARD_STOP account cannot pay for the event, or its deficit would exceed one billion tokens; nothing was written.",
  ACCOUNT_RESTRICTED: "The account owes a deficit past its grace period (LEGACY), or any deficit on a prepay-only tiered plan: only free usage is accepted until it is paid.",
  PRICE_NOT_FOUND: "No price version of this API was in force when the usage occurred.",
  PRICE_CHANGE_IN_PAST: "A price change or cancellation would take effect in the past, or the version is in force or starts within 5 minutes.",
  IDEMPOTENCY_CONFLICT: "The idempotency key (event id, order reference or external reference) was used before with a different payload.",
  CREDIT_SALES_ENDED: "Cloud credits were no longer sold at the purchase date.",
  RESELLER_NOT_FLEX_AUTHORIZED: "The reseller has not signed the Flex agreement or is inactive.",
  ESTORE_NOT_AVAILABLE: "The Autodesk eStore did not sell Flex at the purchase date.",
  API_SUSPENDED: "A FREE account used its monthly free cap of this API: the API is suspended until the next month (UTC); other APIs still work.",
  PAYG_NOT_AVAILABLE: "Pay as You Go is not offered in the account's country.",
  QUERY_TOO_COMPLEX: "The operation is over the depth, alias, size or cost limits; nothing ran.",
  INTERNAL_SERVER_ERROR: "Something failed on the server; it is logged and the message says nothing more.",
};

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
