import { badInput, notFound } from "../core/errors.js";
import { MAXIMA } from "../core/maxima.js";
import type { Account } from "../core/model.js";
import { DEFAULT_CREDIT_ACCEPTANCE_END_AT } from "../core/drain.js";
import { DEFAULT_PAYG_COUNTRIES } from "../core/plan.js";
import { sha256Hex } from "../core/sha256.js";
import type { Instant } from "../core/time.js";
import type { Store, StoreReads } from "../store/port.js";

/** Dates of the business rules that an operator may need to set differently (tests do). */
export interface BillingRules {
  /** Cloud credits were last sold the day before this (default 2022-11-07, Flex launch). */
  readonly creditSalesEndAt: Instant;
  /** Autodesk eStore sales of Flex started here (default 2023-07-07). */
  readonly estoreStartAt: Instant;
  /** Cloud-credit lots pay no usage that occurred at or after this (default 2026-01-01, domain §8). */
  readonly creditAcceptanceEndAt: Instant;
  /** Countries (ISO 3166-1 alpha-2) where Pay as You Go is offered (default DEFAULT_PAYG_COUNTRIES). */
  readonly paygCountries: readonly string[];
}

export const DEFAULT_RULES: BillingRules = Object.freeze({
  creditSalesEndAt: Date.UTC(2022, 10, 7),
  estoreStartAt: Date.UTC(2023, 6, 7),
  creditAcceptanceEndAt: DEFAULT_CREDIT_ACCEPTANCE_END_AT,
  paygCountries: DEFAULT_PAYG_COUNTRIES,
});

export type Clock = () => Instant;

export interface ServiceContext {
  readonly store: Store;
  readonly clock: Clock;
  readonly rules: BillingRules;
}

/**
 * Fingerprint of an idempotent request's payload: the same key with another fingerprint is a
 * conflict. Keys are sorted so field order never matters; bigints are written exactly.
 */
export function fingerprint(payload: Record<string, unknown>): string {
  const canonical = JSON.stringify(payload, (_key, value: unknown) => {
    if (typeof value === "bigint") return value.toString();
    if (value && typeof value === "object" && !Array.isArray(value)) {
      return Object.fromEntries(Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    }
    return value;
  });
  return sha256Hex(canonical);
}

/** A page of a connection: the items and whether more follow. */
export interface Page<T> {
  readonly items: readonly T[];
  readonly hasNextPage: boolean;
  /** A promise, so that a page that never shows its count never counts. */
  readonly totalCount: Promise<number>;
}

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = MAXIMA.pageSize;

/**
 * Reads one more row than asked to learn whether another page follows. A count given as a
 * function runs only when `totalCount` is read, so pages that never show it skip the count query.
 */
export function toPage<T>(rows: readonly T[], limit: number, count: number | (() => Promise<number>)): Page<T> {
  let totalCount = typeof count === "number" ? Promise.resolve(count) : undefined;
  return {
    items: rows.slice(0, limit),
    hasNextPage: rows.length > limit,
    get totalCount() {
      return (totalCount ??= (count as () => Promise<number>)());
    },
  };
}

/** Validates a requested page size: default 20, at most 100. */
export function pageSize(first: number | null | undefined, field = "first"): number {
  if (first == null) return DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(first) || first < 1 || first > MAX_PAGE_SIZE) {
    throw badInput(field, `${field} must be a whole number from 1 to ${MAX_PAGE_SIZE}`);
  }
  return first;
}

/** @throws FlexgateError NOT_FOUND naming `field` */
export async function accountOrThrow(reads: StoreReads, id: number, field: string): Promise<Account> {
  const account = await reads.findAccount(id);
  if (!account) throw notFound("account", field);
  return account;
}
