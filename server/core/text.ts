import { badInput } from "./errors.js";

/** C0/C1 controls and the bidi embedding/override/isolate controls used to disguise text. */
const FORBIDDEN_CHARS = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/u;

export interface TextRule {
  readonly max: number;
  /** Optional fields may be empty; required ones may not be blank. */
  readonly optional?: boolean;
}

/**
 * Free text (names, notes, reasons): trimmed, not blank unless optional, bounded, and free of
 * control characters. Notes are shown to operators, so nothing that can rewrite what they see
 * gets in.
 */
export function cleanText(value: string, field: string, rule: TextRule): string {
  const text = value.trim();
  if (!rule.optional && text.length === 0) throw badInput(field, `${field} must not be blank`);
  if (text.length > rule.max) throw badInput(field, `${field} must be at most ${rule.max} characters`);
  if (FORBIDDEN_CHARS.test(text)) throw badInput(field, `${field} must not contain control characters`);
  return text;
}

/** Caller-chosen references (event ids, order refs): printable ASCII, no spaces, 1–128 characters. */
const REFERENCE = /^[\x21-\x7e]{1,128}$/;

export function cleanReference(value: string, field: string): string {
  if (!REFERENCE.test(value)) {
    throw badInput(field, `${field} must be 1 to 128 printable ASCII characters without spaces`);
  }
  return value;
}

/** API codes are lower-case slugs with "/" between groups: "design-automation/revit". */
const API_CODE = /^[a-z0-9]+(?:[-/][a-z0-9]+)*$/;

export function cleanApiCode(value: string, field: string): string {
  if (value.length > 100 || !API_CODE.test(value)) {
    throw badInput(field, `${field} must be a lower-case slug such as "design-automation/revit"`);
  }
  return value;
}

/** ISO 3166-1 alpha-2 country codes ("JP"). */
export function cleanCountry(value: string, field: string): string {
  if (!/^[A-Z]{2}$/.test(value)) throw badInput(field, `${field} must be an ISO 3166-1 alpha-2 code such as "JP"`);
  return value;
}

/** Parses a positive whole number, as used for unit quantities. */
export function requirePositiveInt(value: number, field: string, max: number): number {
  if (!Number.isSafeInteger(value) || value < 1 || value > max) {
    throw badInput(field, `${field} must be a whole number from 1 to ${max}`);
  }
  return value;
}

/** Parses a database id given as a GraphQL ID; malformed ids are bad input, unknown ones not found. */
export function parseId(value: string | number, field: string): number {
  const text = String(value);
  if (!/^[1-9][0-9]{0,15}$/.test(text) || !Number.isSafeInteger(Number(text))) {
    throw badInput(field, `${field} is not a valid id`);
  }
  return Number(text);
}
