import { unwrapResolverError } from "@apollo/server/errors";
import { type ASTNode, type GraphQLFormattedError, GraphQLError, parse, visit } from "graphql";
import { type ErrorCode, ERROR_CODES, FlexgateError, GENERIC_MESSAGE } from "../core/errors.js";
import { log } from "../log.js";

const CLOSED_SET = new Set<string>(ERROR_CODES);

/** Apollo's and graphql-js's own codes for a request that is wrong rather than broken. */
const CLIENT_CODES = new Set([
  "GRAPHQL_PARSE_FAILED",
  "GRAPHQL_VALIDATION_FAILED",
  "BAD_USER_INPUT",
  "BAD_REQUEST",
  "PERSISTED_QUERY_NOT_FOUND",
  "PERSISTED_QUERY_NOT_SUPPORTED",
  "OPERATION_RESOLUTION_FAILURE",
]);

/** graphql-js's message (with its "more that" typo) when the token cap (LIMITS.maxTokens) stops a document. */
const TOKEN_CAP = /Document contains more tha[nt] \d+ tokens/;
/**
 * graphql-js's message when validation runs out of its own work budget (comparing overlapping
 * fields, expanding fragments): the document is too large to check, whatever it asks.
 */
const VALIDATION_BUDGET = "Validation aborted.";

export { GENERIC_MESSAGE };

/**
 * The one edge where errors become responses: every error leaves with a code of the closed set
 * of api.md, the offending field where there is one, and nothing of the internals.
 */
export function formatError(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
  const original = unwrapResolverError(error);
  const path = formatted.path;
  if (original instanceof FlexgateError) {
    return shape(original.code, original.message, original.field, formatted);
  }
  if (original instanceof GraphQLError) {
    const cause = flexgateCause(original);
    if (cause) {
      // A scalar refused a value during coercion: graphql-js knows the path, the scalar does not.
      const field = inputPath(original) ?? cause.field;
      const message = field && cause.field ? cause.message.replaceAll(cause.field, field) : cause.message;
      return shape(cause.code, message, field, formatted);
    }
    // Apollo wraps a validation rule's error in its own ValidationError and overwrites the rule's
    // code with GRAPHQL_VALIDATION_FAILED; the limits rule's QUERY_TOO_COMPLEX is on the original.
    const ruleCode = (original.originalError as { extensions?: { code?: unknown } } | undefined)?.extensions?.code;
    const code = String((typeof ruleCode === "string" && CLOSED_SET.has(ruleCode) ? ruleCode : original.extensions.code) ?? "");
    if (CLOSED_SET.has(code) && code !== "INTERNAL_SERVER_ERROR") {
      return shape(code as ErrorCode, original.message, (original.extensions.field as string | undefined) ?? inputPath(original), formatted);
    }
    if ((code === "GRAPHQL_PARSE_FAILED" && TOKEN_CAP.test(original.message)) || isSelectionCap(original) || original.message === VALIDATION_BUDGET) {
      return shape("QUERY_TOO_COMPLEX", original.message, undefined, formatted);
    }
    // Apollo wraps what the context function throws ("Context creation failed: " and the
    // error's own text, a failed query's SQL included): that is the server failing, not the request.
    const failedUnderneath = original.originalError !== undefined && !(original.originalError instanceof GraphQLError);
    if (CLIENT_CODES.has(code) || (!code && !path && !failedUnderneath)) {
      return shape("BAD_USER_INPUT", original.message, inputPath(original), formatted);
    }
  }
  log.error("unexpected error", {
    path: path?.join("."),
    error: original instanceof Error ? { name: original.name, message: original.message, stack: original.stack } : String(original),
  });
  return { message: GENERIC_MESSAGE, ...(path ? { path } : {}), extensions: { code: "INTERNAL_SERVER_ERROR" } };
}

/** Apollo's refusal of a document whose fragments expand past LIMITS.maxSelections. */
function isSelectionCap(error: GraphQLError): boolean {
  const cause = error.originalError as { extensions?: { validationErrorCode?: unknown } } | undefined;
  return (cause?.extensions?.validationErrorCode ?? error.extensions.validationErrorCode) === "MAX_RECURSIVE_SELECTIONS_EXCEEDED";
}

/** graphql-js and Apollo wrap a scalar's error once or twice; the FlexgateError is at the bottom. */
function flexgateCause(error: GraphQLError): FlexgateError | undefined {
  let cause: unknown = error.originalError;
  for (let depth = 0; depth < 5 && cause; depth++) {
    if (cause instanceof FlexgateError) return cause;
    cause = (cause as { originalError?: unknown }).originalError;
  }
  return undefined;
}

function shape(code: ErrorCode, message: string, field: string | undefined, formatted: GraphQLFormattedError): GraphQLFormattedError {
  return {
    message: withoutSuggestions(message),
    ...(formatted.locations ? { locations: formatted.locations } : {}),
    ...(formatted.path ? { path: formatted.path } : {}),
    extensions: { code, ...(field ? { field } : {}) },
  };
}

/**
 * graphql-js suggests names ("Did you mean the enum value \"OPERATOR\"?") in validation and in
 * variable coercion messages; Apollo strips them from validation errors only. Suggestions map
 * the schema for a caller who guesses, so none leaves, whatever produced the message.
 */
function withoutSuggestions(message: string): string {
  return message.replace(/\s*Did you mean [^?]*\?/g, "");
}

/**
 * The argument path of a bad input value, dotted, with list positions as numbers
 * ("inputs.3.quantity", as batch items report theirs). For a variable, graphql-js's coercion
 * message gives the path inside the variable (`… got invalid value … at "inputs[3].quantity"`),
 * and the variable's place in the document gives the argument it fills (`quantity: $q` inside
 * `input` is `input.quantity`, whatever the variable is called). For an inline literal, the
 * offending node is found in the document. A required field left out is named too, not just the
 * object missing it.
 */
export function inputPath(error: GraphQLError): string | undefined {
  // A required argument left out of a field: the argument is the field to name.
  const missingArgument = /^Field "\w+" argument "(\w+)" of type "[^"]+" is required, but it was not provided\./.exec(error.message)?.[1];
  if (missingArgument) return missingArgument;
  // A variable of another type than a place it fills: that place is the error's second node.
  if (/^Variable "\$[^"]+" of type "[^"]+" used in position expecting/.test(error.message)) {
    const place = error.nodes?.[1]?.loc?.start;
    return place === undefined || !error.source ? undefined : argumentPath(error.source.body, (node) => node.loc?.start === place);
  }
  const missing = /Field "(?:\w+\.)?(\w+)" of required type "[^"]+" was not provided/.exec(error.message)?.[1];
  const variable =
    /^Variable "\$([^"]+)" got invalid value .*? at "([^"]+)";/s.exec(error.message) ??
    /^Variable "\$([^"]+)" (?:got invalid value|of required type|of non-null type)/.exec(error.message);
  if (variable) {
    const name = variable[1]!;
    const unknown = /; Field "(\w+)" is not defined by type/.exec(error.message)?.[1];
    const filled = error.source && argumentPath(error.source.body, (node) => node.kind === "Variable" && node.name.value === name);
    const within = (variable[2] ?? name).slice(name.length);
    return join(dotted((filled || name) + within), missing ?? unknown);
  }
  const start = error.nodes?.[0]?.loc?.start;
  if (start === undefined || !error.source) return undefined;
  return join(argumentPath(error.source.body, (node) => node.loc?.start === start), missing);
}

const dotted = (path: string) => path.replace(/\[(\d+)\]/g, ".$1");
const join = (path: string | undefined, child: string | undefined) => (path && child ? `${path}.${child}` : path);

/** The arguments, object fields and list positions around the first argument value that matches. */
function argumentPath(query: string, matches: (node: ASTNode) => boolean): string | undefined {
  let document;
  try {
    document = parse(query, { noLocation: false });
  } catch {
    return undefined;
  }
  // Inside an argument only value nodes follow: arguments and object fields are named, and a
  // node under a numeric key is an item of a list value.
  const names: string[] = [];
  const pushed: boolean[] = [];
  let found: string | undefined;
  visit(document, {
    enter(node: ASTNode, key) {
      if (found) return false;
      const name =
        node.kind === "Argument" || node.kind === "ObjectField" ? node.name.value : names.length > 0 && typeof key === "number" ? String(key) : undefined;
      if (name !== undefined) names.push(name);
      pushed.push(name !== undefined);
      if (names.length > 0 && matches(node)) found = names.join(".");
      return undefined;
    },
    leave() {
      if (pushed.pop()) names.pop();
    },
  });
  return found;
}
