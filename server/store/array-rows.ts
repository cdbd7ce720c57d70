/**
 * The hot reads of a page of accounts (the accounts, their resellers, lots, packs and Token Flex
 * pools) as rows in array form, for both engines: better-sqlite3's raw mode and node-postgres's
 * `rowMode: "array"`. Each select list below is written once for both (the drift test holds the
 * tables equal) and each mapper builds the domain object straight from the array: a page reads a
 * few hundred of these rows, and making an object per row natively, then copying it into the
 * domain object, cost more than the database's own work.
 */
import type { Account, CreditLot, FlexPack, LotHolding, PackHolding, Reseller, TokenFlexPoolRecord } from "../core/model.js";
import { fromDbMicros } from "./rows.js";

/** A boolean column: SQLite gives 0 or 1, PostgreSQL true or false. */
const flag = (value: unknown): boolean => value === 1 || value === true;

export type ArrayRow = readonly unknown[];

export const ACCOUNT_COLUMNS = `"id", "name", "country", "reseller_id", "balance_policy", "deficit_micros", "grace_started_at", "demo", "created_at", "updated_at"`;

export const accountOfRow = (row: ArrayRow): Account => ({
  id: row[0] as number,
  name: row[1] as string,
  country: row[2] as string | null,
  resellerId: row[3] as number | null,
  balancePolicy: row[4] as Account["balancePolicy"],
  deficitMicros: fromDbMicros(row[5] as number),
  graceStartedAt: row[6] as number | null,
  demo: flag(row[7]),
  createdAt: row[8] as number,
  updatedAt: row[9] as number,
});

export const RESELLER_COLUMNS = `"id", "name", "tier", "flex_agreement", "active", "locations", "languages", "services", "demo", "created_at", "updated_at"`;

/** The facet lists are stored as JSON arrays. */
export const resellerOfRow = (row: ArrayRow): Reseller => ({
  id: row[0] as number,
  name: row[1] as string,
  tier: row[2] as Reseller["tier"],
  flexAgreement: flag(row[3]),
  active: flag(row[4]),
  locations: JSON.parse(row[5] as string) as string[],
  languages: JSON.parse(row[6] as string) as string[],
  services: JSON.parse(row[7] as string) as string[],
  demo: flag(row[8]),
  createdAt: row[9] as number,
  updatedAt: row[10] as number,
});

// Domain lots, packs and pools carry no fingerprint: only the idempotent purchase path reads it back.

// A lot's and a pack's holding columns come first in their full select lists, in the same order:
// the full rows' mappers start from the holding's.

export const LOT_HOLDING_COLUMNS = `"id", "account_id", "amount_micros", "remaining_micros", "purchased_at", "expires_at"`;

export const lotHoldingOfRow = (row: ArrayRow): LotHolding => ({
  id: row[0] as number,
  accountId: row[1] as number,
  amountMicros: fromDbMicros(row[2] as number),
  remainingMicros: fromDbMicros(row[3] as number),
  purchasedAt: row[4] as number,
  expiresAt: row[5] as number,
});

export const LOT_COLUMNS = `${LOT_HOLDING_COLUMNS}, "external_ref", "created_at"`;

/** A full row is its holding (the first six values) and how the lot was bought. */
export const lotOfRow = (row: ArrayRow): CreditLot => ({ ...lotHoldingOfRow(row), externalRef: row[6] as string, createdAt: row[7] as number });

export const PACK_HOLDING_COLUMNS = `"id", "account_id", "tokens_micros", "remaining_micros", "purchased_at", "expires_at"`;

export const packHoldingOfRow = (row: ArrayRow): PackHolding => ({
  id: row[0] as number,
  accountId: row[1] as number,
  tokensMicros: fromDbMicros(row[2] as number),
  remainingMicros: fromDbMicros(row[3] as number),
  purchasedAt: row[4] as number,
  expiresAt: row[5] as number,
});

export const PACK_COLUMNS = `${PACK_HOLDING_COLUMNS}, "channel", "reseller_id", "order_ref", "unit_price", "currency", "created_at"`;

/** A full row is its holding (the first six values) and how the pack was bought. */
export const packOfRow = (row: ArrayRow): FlexPack => ({
  ...packHoldingOfRow(row),
  channel: row[6] as FlexPack["channel"],
  resellerId: row[7] as number | null,
  orderRef: row[8] as string,
  unitPrice: row[9] as string | null,
  currency: row[10] as string | null,
  createdAt: row[11] as number,
});

export const POOL_COLUMNS = `"id", "account_id", "tokens_micros", "remaining_micros", "starts_at", "ends_at", "external_ref", "created_at"`;

export const poolOfRow = (row: ArrayRow): TokenFlexPoolRecord => ({
  id: row[0] as number,
  accountId: row[1] as number,
  tokensMicros: fromDbMicros(row[2] as number),
  remainingMicros: fromDbMicros(row[3] as number),
  startsAt: row[4] as number,
  endsAt: row[5] as number,
  externalRef: row[6] as string,
  createdAt: row[7] as number,
});

/**
 * Soonest expiry first, then by id: the order the lots, packs (by `expiresAt`) and pools (by
 * `endsAt`) of a page are listed in. SQLite would sort the wide rows in a temporary B-tree,
 * copying every value in and out, which cost as much as reading them; sorting the mapped objects
 * here costs a fraction of it.
 */
export function soonestFirst<T extends { readonly id: number }>(items: T[], end: (item: T) => number): T[] {
  return items.sort((a, b) => end(a) - end(b) || a.id - b.id);
}
