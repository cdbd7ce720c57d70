/**
 * The one assertion every error response in the reliability suite goes through: a closed-set
 * code, nothing but `code` and `field` in the extensions, and nothing of the internals (SQL,
 * SQLite, file paths, stack traces) or of anyone's secret in the text.
 */
import { expect } from "vitest";
import { ERROR_CODES } from "../../../server/core/errors.js";

const CLOSED_SET = new Set<string>(ERROR_CODES);

/** What leaks look like: SQL and SQLite, paths and module names, stack frames, JS error types. */
const INTERNALS: readonly RegExp[] = [
  /\bsqlite/i,
  /\b(?:select|delete)\b[^"]*\bfrom\b/i,
  /\binsert\s+into\b/i,
  /\bupdate\b\s+\S+\s+\bset\b/i,
  /\b(?:drop|create|alter)\s+(?:table|index)\b/i,
  /\bno such (?:table|column)\b/i,
  /\b(?:unique|foreign key|not null|check) constraint\b/i,
  /\bconstraint failed\b/i,
  /\bdatabase (?:is locked|connection)\b/i,
  /(?:^|[\s("'`])\/(?:[\w.@-]+\/)+[\w.@-]*/,
  /[A-Za-z]:\\[\w\\]/,
  /file:\/\//,
  /node_modules|node:internal/,
  /\.(?:ts|js|mjs|cjs)\b(?::\d+)?/,
  /\n\s*at\s/,
  /\bat\s+\S+\s+\(.*:\d+:\d+\)/,
  /\b(?:TypeError|ReferenceError|RangeError|SyntaxError|SqliteError)\b/,
  /Cannot read propert/,
  /\bundefined is not\b/,
];

export interface SafetyOptions {
  /**
   * Values the caller sent, which graphql-js may quote back ("got invalid value …"): they are
   * the caller's own text, so they are cut out before the message is scanned.
   */
  readonly echoes?: readonly string[];
  /** Secrets that must appear nowhere in the response. */
  readonly secrets?: readonly string[];
}

export interface SeenError {
  readonly message: string;
  readonly extensions?: { readonly code?: string; readonly field?: string; readonly [key: string]: unknown };
}

/** Every error object in a response: top-level `errors` and batch items' `error`. */
export function errorsIn(body: unknown): SeenError[] {
  const found: SeenError[] = [];
  const top = (body as { errors?: SeenError[] } | null)?.errors;
  if (Array.isArray(top)) found.push(...top);
  const walk = (value: unknown) => {
    if (Array.isArray(value)) value.forEach(walk);
    else if (value && typeof value === "object") {
      for (const [key, inner] of Object.entries(value)) {
        if (key === "error" && inner && typeof inner === "object" && "code" in inner) {
          const { code, message, field } = inner as { code: string; message: string; field?: string | null };
          found.push({ message, extensions: { code, ...(field ? { field } : {}) } });
        } else walk(inner);
      }
    }
  };
  walk((body as { data?: unknown } | null)?.data);
  return found;
}

/** Fails when any error of the response leaks internals or secrets or steps out of the contract. */
export function expectSafeErrors(body: unknown, options: SafetyOptions = {}): void {
  const whole = JSON.stringify(body) ?? "";
  for (const secret of options.secrets ?? []) {
    expect(whole.includes(secret), `a secret appears in the response ${whole.slice(0, 300)}`).toBe(false);
  }
  for (const error of errorsIn(body)) {
    const code = error.extensions?.code;
    expect(CLOSED_SET.has(String(code)), `code ${String(code)} is not in the closed set (${error.message})`).toBe(true);
    expect(Object.keys(error.extensions ?? {}).filter((key) => key !== "code" && key !== "field")).toEqual([]);
    expect(Object.keys(error).filter((key) => !["message", "locations", "path", "extensions"].includes(key))).toEqual([]);
    let text = error.message;
    // Longest first, so an echo that contains a shorter one is cut out whole.
    for (const echo of [...(options.echoes ?? [])].sort((a, b) => b.length - a.length)) {
      if (echo) text = text.split(echo).join("«input»").split(JSON.stringify(echo).slice(1, -1)).join("«input»");
    }
    for (const pattern of INTERNALS) {
      expect(pattern.test(text), `error message leaks internals (${pattern}): ${error.message.slice(0, 300)}`).toBe(false);
    }
  }
}

/** A response that must not be an internal error, whatever else it is. */
export function expectNoInternalError(body: unknown, options: SafetyOptions = {}): void {
  expectSafeErrors(body, options);
  const codes = errorsIn(body).map((error) => error.extensions?.code);
  expect(codes, JSON.stringify(body).slice(0, 500)).not.toContain("INTERNAL_SERVER_ERROR");
}
