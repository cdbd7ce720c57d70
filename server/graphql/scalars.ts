import { GraphQLScalarType, Kind, type ValueNode } from "graphql";
import { badInput, FlexgateError } from "../core/errors.js";
import { formatMicros, parseMicros } from "../core/money.js";
import { formatInstant, type Instant, parseInstant } from "../core/time.js";
import { type MaybeUnparsed, Unparsed } from "./unparsed.js";

/**
 * Amounts travel as exact decimal strings and live as bigint micros inside; instants as RFC 3339
 * strings outside and epoch milliseconds inside. Parsing is strict, but a value that does not
 * parse is kept as Unparsed rather than thrown during coercion: every field refuses it before its
 * resolver runs, with the field's path, except recordUsageBatch's items, each of which fails
 * alone (see unparsed.ts).
 */
function deferring<T>(parse: (value: unknown, field: string) => T) {
  return (value: unknown): MaybeUnparsed<T> => {
    try {
      return parse(value, "value");
    } catch (error) {
      if (!(error instanceof FlexgateError)) throw error;
      return new Unparsed((field) => parse(value, field));
    }
  };
}

/** A literal's text; any other kind of literal is kept to be refused as "must be given as a string". */
function literal<T>(parse: (value: unknown) => MaybeUnparsed<T>, scalar: string) {
  return (node: ValueNode): MaybeUnparsed<T> => {
    if (node.kind === Kind.STRING) return parse(node.value);
    return new Unparsed((field) => {
      throw badInput(field, `${field} (${scalar}) must be given as a string`);
    });
  };
}

function amountScalar(name: string, description: string) {
  const parse = deferring(parseMicros);
  return new GraphQLScalarType<MaybeUnparsed<bigint>, string>({
    name,
    description,
    serialize: (value) => {
      if (typeof value !== "bigint") throw new TypeError(`${name} must be serialized from micros`);
      return formatMicros(value);
    },
    parseValue: parse,
    parseLiteral: literal(parse, name),
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

const parseDateTime = deferring(parseInstant);

/**
 * ISO strings of the instants served lately. A portal page shows the same purchase and expiry
 * instants on every request, and formatting a Date was a sizeable part of serving one; the cache
 * is dropped whole when full, so it never holds more than ISO_CACHE_SIZE strings.
 */
const isoStrings = new Map<number, string>();
const ISO_CACHE_SIZE = 10_000;

function isoString(instant: number): string {
  let text = isoStrings.get(instant);
  if (text === undefined) {
    text = formatInstant(instant);
    if (isoStrings.size >= ISO_CACHE_SIZE) isoStrings.clear();
    isoStrings.set(instant, text);
  }
  return text;
}

export const DateTimeScalar = new GraphQLScalarType<MaybeUnparsed<Instant>, string>({
  name: "DateTime",
  description:
    'An instant as an RFC 3339 date-time, such as "2024-05-01T10:00:00Z" or "2024-05-01T19:00:00.123456+09:00", or a date such as "2024-05-01" (midnight UTC). Offsets are normalised to UTC; digits below the millisecond are truncated. Outputs are always UTC with milliseconds ("2024-05-01T10:00:00.000Z").',
  serialize: (value) => {
    if (typeof value !== "number") throw new TypeError("DateTime must be serialized from epoch milliseconds");
    return isoString(value);
  },
  parseValue: parseDateTime,
  parseLiteral: literal(parseDateTime, "DateTime"),
});

/** The scalars that keep a value they cannot parse, for strictInputs to refuse. */
export const DEFERRING_SCALARS: ReadonlySet<string> = new Set(["Tokens", "Quantity", "DateTime"]);
