import { badInput } from "./errors.js";

/**
 * Amounts are bigint micro-tokens: 1 token = 1,000,000 micros. No amount is ever a float.
 */
export const MICROS_PER_TOKEN = 1_000_000n;
export const FRACTION_DIGITS = 6;

/**
 * The largest amount accepted on input: one billion tokens. Its micros (1e15) and any sum of a
 * few thousand such amounts stay inside SQLite's int64 and JavaScript's safe-integer range.
 */
export const MAX_TOKENS_MICROS = 1_000_000_000n * MICROS_PER_TOKEN;

/** Plain decimal: no sign, no exponent, no leading zeros, no spaces, ASCII digits only. */
const DECIMAL = /^(0|[1-9][0-9]*)(?:\.([0-9]+))?$/;

export interface ParseAmountOptions {
  /** Largest accepted value in micros (inclusive); defaults to MAX_TOKENS_MICROS. */
  readonly maxMicros?: bigint;
}

/**
 * Parses a non-negative decimal string into micros, refusing anything that is not exact:
 * more than 6 fractional digits, exponents, signs, hex, separators, non-ASCII digits, padding.
 */
export function parseMicros(text: unknown, field: string, options: ParseAmountOptions = {}): bigint {
  if (typeof text !== "string") {
    throw badInput(field, `${field} must be a decimal string such as "12.5"`);
  }
  const match = DECIMAL.exec(text);
  if (!match) {
    throw badInput(
      field,
      `${field} must be a plain non-negative decimal such as "12.5" (no sign, exponent, spaces or separators)`,
    );
  }
  const whole = match[1]!;
  const fraction = match[2] ?? "";
  if (fraction.length > FRACTION_DIGITS) {
    throw badInput(field, `${field} has more than ${FRACTION_DIGITS} fractional digits`);
  }
  const maxMicros = options.maxMicros ?? MAX_TOKENS_MICROS;
  // Refuse long inputs before building a huge bigint from them.
  if (whole.length > 18) throw tooLarge(field, maxMicros);
  const micros = BigInt(whole) * MICROS_PER_TOKEN + BigInt(fraction.padEnd(FRACTION_DIGITS, "0"));
  if (micros > maxMicros) throw tooLarge(field, maxMicros);
  return micros;
}

function tooLarge(field: string, maxMicros: bigint) {
  return badInput(field, `${field} must be at most ${formatMicros(maxMicros)}`);
}

/** Formats micros as the shortest exact decimal string: 500000n → "0.5", -1n → "-0.000001". */
export function formatMicros(micros: bigint): string {
  const sign = micros < 0n ? "-" : "";
  const abs = micros < 0n ? -micros : micros;
  const whole = abs / MICROS_PER_TOKEN;
  const fraction = (abs % MICROS_PER_TOKEN).toString().padStart(FRACTION_DIGITS, "0").replace(/0+$/, "");
  return fraction ? `${sign}${whole}.${fraction}` : `${sign}${whole}`;
}

/**
 * a × b ÷ divisor, rounded half-up (half away from zero for negative results) to an integer.
 * The only division of amounts in Flexgate: every rounding goes through here.
 */
export function mulDivHalfUp(a: bigint, b: bigint, divisor: bigint): bigint {
  if (divisor <= 0n) throw new RangeError("divisor must be positive");
  const product = a * b;
  const negative = product < 0n;
  const abs = negative ? -product : product;
  const rounded = (abs * 2n + divisor) / (divisor * 2n);
  return negative ? -rounded : rounded;
}

export function sumMicros(values: Iterable<bigint>): bigint {
  let total = 0n;
  for (const value of values) total += value;
  return total;
}

export function minMicros(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}
