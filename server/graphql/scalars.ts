import { GraphQLScalarType, Kind, type ValueNode } from "graphql";
import { FlexgateError } from "../core/errors.js";
import { formatMicros, parseMicros } from "../core/money.js";
import { formatInstant, type Instant, parseInstant } from "../core/time.js";

/**
 * Amounts travel as exact decimal strings and live as bigint micros inside; instants as ISO
 * strings outside and epoch milliseconds inside. Parsing is strict and throws FlexgateError:
 * graphql-js keeps it as the originalError, and the error edge turns it into BAD_USER_INPUT
 * with the field's path.
 */
function literal(node: ValueNode, scalar: string): unknown {
  if (node.kind !== Kind.STRING) throw new FlexgateError("BAD_USER_INPUT", `${scalar} must be given as a string`);
  return node.value;
}

function amountScalar(name: string, description: string) {
  return new GraphQLScalarType<bigint, string>({
    name,
    description,
    serialize: (value) => {
      if (typeof value !== "bigint") throw new TypeError(`${name} must be serialized from micros`);
      return formatMicros(value);
    },
    parseValue: (value) => parseMicros(value, name),
    parseLiteral: (node) => parseMicros(literal(node, name), name),
  });
}

export const TokensScalar = amountScalar(
  "Tokens",
  'An exact amount of tokens (1 cloud credit = 1 Flex token) as a decimal string with at most 6 fractional digits, such as "0.120556". Never a float. Inputs are non-negative; outputs such as an available balance may be negative.',
);

export const QuantityScalar = amountScalar(
  "Quantity",
  'An exact non-negative quantity of meter units (seconds, jobs, photos, calls…) as a decimal string with at most 6 fractional digits, such as "217" or "1.5".',
);

export const DateTimeScalar = new GraphQLScalarType<Instant, string>({
  name: "DateTime",
  description: 'An instant in ISO-8601 UTC, such as "2024-05-01T10:00:00Z" or "2024-05-01" (midnight UTC). Offsets other than Z are refused.',
  serialize: (value) => {
    if (typeof value !== "number") throw new TypeError("DateTime must be serialized from epoch milliseconds");
    return formatInstant(value);
  },
  parseValue: (value) => parseInstant(value, "DateTime"),
  parseLiteral: (node) => parseInstant(literal(node, "DateTime"), "DateTime"),
});
