/**
 * The server's input rules for price changes, repeated here so an operator learns about a mistake
 * while typing instead of after a round trip. The server stays the authority: it checks again and
 * its answer is shown next to the same field. Kept free of the DOM so the test suite can hold these
 * rules against the server's own (server/core/money.ts, text.ts, prices.service.ts).
 */

export type Check<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly message: string };

const ok = <T>(value: T): Check<T> => ({ ok: true, value });
const fail = <T>(message: string): Check<T> => ({ ok: false, message });

export const FRACTION_DIGITS = 6;
/** One billion tokens, the largest amount the server accepts (MAX_TOKENS_MICROS). */
export const MAX_TOKENS_WHOLE_DIGITS = 10;
export const MAX_TOKENS_MICROS = 1_000_000_000n * 1_000_000n;
export const MAX_UNIT_QUANTITY = 1_000_000_000;
export const MAX_NOTE_LENGTH = 2000;
export const MAX_NAME_LENGTH = 200;
export const MAX_API_CODE_LENGTH = 100;
/** The largest free cap the server accepts (MAX_UNITS_PER_MONTH). */
export const MAX_UNITS_PER_MONTH = 1_000_000_000;

/** Plain decimal: no sign, exponent, leading zeros, spaces or separators (as parseMicros). */
const DECIMAL = /^(0|[1-9][0-9]*)(?:\.([0-9]+))?$/;
/** C0/C1 controls and bidi overrides, which the server refuses in free text (cleanText). */
const FORBIDDEN_CHARS = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/u;
const API_CODE = /^[a-z0-9]+(?:[-/][a-z0-9]+)*$/;
const WHOLE = /^[1-9][0-9]*$/;

/** A token amount such as "0.5": returns the exact text the server will receive. */
export function checkTokens(text: string): Check<string> {
  if (text.length === 0) return fail("Enter a rate, such as 0.5.");
  const match = DECIMAL.exec(text);
  if (!match) {
    return fail("Use a plain decimal such as 0.5: digits and one dot, no sign, exponent, spaces or separators.");
  }
  const whole = match[1]!;
  const fraction = match[2] ?? "";
  if (fraction.length > FRACTION_DIGITS) return fail(`At most ${FRACTION_DIGITS} digits after the dot (1 micro-token).`);
  if (whole.length > MAX_TOKENS_WHOLE_DIGITS || BigInt(whole) * 1_000_000n + BigInt(fraction.padEnd(FRACTION_DIGITS, "0")) > MAX_TOKENS_MICROS) {
    return fail("At most 1000000000 tokens.");
  }
  return ok(text);
}

/** How many meter units the rate is for: a whole number from 1 to one billion. */
export function checkUnitQuantity(text: string): Check<number> {
  if (text.length === 0) return fail("Enter how many units the rate is for, such as 1 or 3600.");
  if (!WHOLE.test(text)) return fail("Use a whole number from 1 to 1000000000, without separators.");
  const value = Number(text);
  if (text.length > 10 || value > MAX_UNIT_QUANTITY) return fail("At most 1000000000.");
  return ok(value);
}

/** Notes and reasons: required, trimmed, bounded, one paragraph of printable text. */
export function checkText(text: string, what: string, options: { max: number; optional?: boolean }): Check<string> {
  const value = text.trim();
  if (value.length === 0 && !options.optional) return fail(`Enter a ${what}.`);
  if (value.length > options.max) return fail(`The ${what} is ${value.length} characters long; at most ${options.max}.`);
  if (FORBIDDEN_CHARS.test(value)) return fail(`The ${what} must be one paragraph: no line breaks, tabs or control characters.`);
  return ok(value);
}

export const checkNote = (text: string) => checkText(text, "note", { max: MAX_NOTE_LENGTH });
export const checkReason = (text: string) => checkText(text, "reason", { max: MAX_NOTE_LENGTH });
export const checkName = (text: string) => checkText(text, "display name", { max: MAX_NAME_LENGTH, optional: true });

export function checkApiCode(text: string): Check<string> {
  const value = text.trim();
  if (value.length === 0) return fail("Enter an API code, such as design-automation/revit.");
  if (value.length > MAX_API_CODE_LENGTH || !API_CODE.test(value)) {
    return fail('Use a lower-case slug with "-" or "/" between words, such as design-automation/revit.');
  }
  return ok(value);
}

const LOCAL_DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/;

/**
 * A `datetime-local` value read as UTC (the console shows every time in UTC, as the API does),
 * which must not lie before `nowMs`. Returns the ISO-8601 string sent to the server.
 */
export function checkEffectiveFrom(text: string, nowMs: number, what = "A price change"): Check<string> {
  const match = LOCAL_DATE_TIME.exec(text);
  if (!match) return fail("Choose a date and time (UTC).");
  const [, y, mo, d, hh, mi, ss = "00"] = match;
  const iso = `${y}-${mo}-${d}T${hh}:${mi}:${ss}Z`;
  const ms = Date.parse(iso);
  const check = new Date(ms);
  if (Number.isNaN(ms) || check.getUTCDate() !== Number(d) || Number(y) < 1970) return fail("This is not a valid date.");
  if (ms < nowMs) return fail(`${what} takes effect now or later, never in the past.`);
  return ok(iso);
}

/** How many days of recent usage the impact preview re-rates. */
export function checkDays(text: string): Check<number> {
  if (!/^[1-9][0-9]{0,2}$/.test(text) || Number(text) > 366) return fail("Use a whole number of days from 1 to 366.");
  return ok(Number(text));
}

/** A free cap: whole charged units a month, from 0 (no free use) to one billion. */
export function checkUnitsPerMonth(text: string): Check<number> {
  if (text.length === 0) return fail("Enter the whole units a month, such as 3. 0 gives no free use.");
  if (!/^(0|[1-9][0-9]*)$/.test(text)) return fail("Use a whole number from 0 to 1000000000, without separators.");
  if (text.length > 10 || Number(text) > MAX_UNITS_PER_MONTH) return fail("At most 1000000000 units a month.");
  return ok(Number(text));
}

/** A calendar month as the API names it ("2026-01"), from an <input type="month">. */
export function checkMonth(text: string): Check<string> {
  const match = /^(\d{4})-(0[1-9]|1[0-2])$/.exec(text);
  if (!match || text < "1970-01") return fail("Choose a month.");
  return ok(text);
}
