/**
 * Row ↔ entity mapping, for both engines (their rows have the same shape: the drift test holds
 * the tables equal). Integers arrive as JS numbers; amounts become bigint here, and
 * every amount leaving for the database is checked to fit a safe integer.
 */
import type { InferInsertModel, InferSelectModel } from "drizzle-orm";
import type * as t from "../../schema/tables.js";
import type {
  Account,
  Actor,
  ApiKey,
  AuditEntry,
  ChargeAllocation,
  CreditLot,
  FlexPack,
  Reseller,
  TokenFlexPoolRecord,
  UsageCharge,
} from "../core/model.js";
import type { SourceKind } from "../core/drain.js";
import type { FreeCap, Reach } from "../core/free-allowance.js";
import type { Settlement } from "../core/ledger.js";
import type { PaygLine } from "../core/payg.js";
import type { Enrollment } from "../core/plan.js";
import type { Outcome, PriceVersion } from "../core/price.js";
import type { Instant } from "../core/time.js";
import type { AuditRecord, ExportPage, NewCharge, ResellerFields } from "./port.js";

export function fromDbMicros(value: number): bigint {
  if (!Number.isSafeInteger(value)) throw new RangeError(`stored amount ${value} is not a safe integer`);
  return BigInt(value);
}

export function toDbMicros(value: bigint): number {
  const number = Number(value);
  if (!Number.isSafeInteger(number)) throw new RangeError(`amount ${value} does not fit a safe integer`);
  return number;
}

/** A PAYG statement's sum for one API, read by either engine as exact text (sum(…) as text). */
export const toStatementLine = (row: { apiCode: string; units: string; tokensMicros: string }): PaygLine => ({
  apiCode: row.apiCode,
  units: BigInt(row.units),
  tokensMicros: BigInt(row.tokensMicros),
});

const list = (json: string): string[] => JSON.parse(json) as string[];

/** A row whose column `K` the entity never shows: the mapper drops it, and a query may skip it. */
type WithoutSecret<Row, K extends keyof Row> = Omit<Row, K> & Partial<Pick<Row, K>>;

export const toReseller = (row: InferSelectModel<typeof t.resellers>): Reseller => ({
  ...row,
  locations: list(row.locations),
  languages: list(row.languages),
  services: list(row.services),
});

export const toAccount = (row: InferSelectModel<typeof t.accounts>): Account => ({
  ...row,
  deficitMicros: fromDbMicros(row.deficitMicros),
});

export const toCreditLot = ({ fingerprint: _, ...row }: WithoutSecret<InferSelectModel<typeof t.creditLots>, "fingerprint">): CreditLot => ({
  ...row,
  amountMicros: fromDbMicros(row.amountMicros),
  remainingMicros: fromDbMicros(row.remainingMicros),
});

export const toFlexPack = ({ fingerprint: _, ...row }: WithoutSecret<InferSelectModel<typeof t.flexPacks>, "fingerprint">): FlexPack => ({
  ...row,
  tokensMicros: fromDbMicros(row.tokensMicros),
  remainingMicros: fromDbMicros(row.remainingMicros),
});

export const toPriceVersion = (
  row: InferSelectModel<typeof t.priceEntries>,
  cancelledAt: number | null,
): PriceVersion => ({
  ...row,
  tokensPerUnitMicros: fromDbMicros(row.tokensPerUnitMicros),
  chargeableOutcomes: row.chargeableOutcomes ? (row.chargeableOutcomes.split(",") as Outcome[]) : [],
  cancelledAt,
});

export const toUsageCharge = (
  { fingerprint: _, ...row }: InferSelectModel<typeof t.usageCharges>,
  reversedAt: number | null,
): UsageCharge => ({
  ...row,
  quantityMicros: fromDbMicros(row.quantityMicros),
  tokensMicros: fromDbMicros(row.tokensMicros),
  units: row.units === null ? null : fromDbMicros(row.units),
  labels: JSON.parse(row.labels) as Record<string, string>,
  reversedAt,
});

/**
 * A new charge as stored under `id`, rated at `ratedAt`, standing. Built field by field: an
 * object rest (`{ fingerprint, ...fields }`) copies through V8's slow generic path, 4% of the
 * server's CPU under PostgreSQL's B2.
 */
export const storedCharge = (charge: NewCharge, id: number, ratedAt: Instant): UsageCharge => ({
  id,
  eventId: charge.eventId,
  accountId: charge.accountId,
  apiCode: charge.apiCode,
  priceEntryId: charge.priceEntryId,
  quantityMicros: charge.quantityMicros,
  outcome: charge.outcome,
  occurredAt: charge.occurredAt,
  ratedAt,
  clientId: charge.clientId,
  labels: charge.labels,
  tokensMicros: charge.tokensMicros,
  units: charge.units,
  reversedAt: null,
});

export const toAllocation = (row: InferSelectModel<typeof t.allocations>): ChargeAllocation => ({
  ...row,
  amountMicros: fromDbMicros(row.amountMicros),
  units: row.units === null ? null : fromDbMicros(row.units),
});

export const toTokenFlexPool = ({
  fingerprint: _,
  startSettledAt: _settled,
  ...row
}: WithoutSecret<InferSelectModel<typeof t.tokenFlexPools>, "fingerprint">): TokenFlexPoolRecord => ({
  ...row,
  tokensMicros: fromDbMicros(row.tokensMicros),
  remainingMicros: fromDbMicros(row.remainingMicros),
});

export const toEnrollment = (row: Pick<InferSelectModel<typeof t.planEnrollments>, "tier" | "payg" | "effectiveFrom">): Enrollment => ({
  tier: row.tier,
  payg: row.payg,
  effectiveFrom: row.effectiveFrom,
});

export const toFreeCap = (row: InferSelectModel<typeof t.freeCaps>): FreeCap => ({
  id: row.id,
  apiCode: row.apiCode,
  unitsPerMonth: row.unitsPerMonth,
  effectiveFrom: row.effectiveFrom,
  note: row.note,
});

/** free_months.reaches: JSON [[units, instant], …]. */
export const toReaches = (text: string): Reach[] => (JSON.parse(text) as [number, number][]).map(([units, at]) => ({ units: BigInt(units), at }));

export const toDbReaches = (reaches: readonly Reach[]): string => JSON.stringify(reaches.map((reach) => [Number(reach.units), reach.at]));

export const toApiKey = ({ secretHash: _, ...row }: WithoutSecret<InferSelectModel<typeof t.apiKeys>, "secretHash">): ApiKey => row;

export const toAuditEntry = (row: InferSelectModel<typeof t.auditLog>): AuditEntry => row;

/** Audit snapshots are JSON; bigint amounts are written as exact decimal micro strings. */
export function auditSnapshot(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  return JSON.stringify(value, (_key, item: unknown) => (typeof item === "bigint" ? item.toString() : item));
}

/** The audit log's row for a record made by an actor. */
export const toAuditRow = (actor: Actor, record: AuditRecord, now: Instant): InferInsertModel<typeof t.auditLog> => ({
  at: now,
  actor: actor.name,
  actorRole: actor.role,
  action: record.action,
  entityType: record.entityType,
  entityId: String(record.entityId),
  before: auditSnapshot(record.before),
  after: auditSnapshot(record.after),
});

/** The rows of deficit parts settled by one funding source (its id in the column of its kind). */
export const toSettlementRows = (
  accountId: number,
  funding: { kind: SourceKind; id: number },
  settlements: readonly Settlement[],
  now: Instant,
): InferInsertModel<typeof t.deficitSettlements>[] =>
  settlements.map((settlement) => ({
    accountId,
    allocationId: settlement.allocationId,
    source: funding.kind,
    creditLotId: funding.kind === "CREDIT_LOT" ? funding.id : null,
    tokenFlexPoolId: funding.kind === "TOKEN_FLEX" ? funding.id : null,
    flexPackId: funding.kind === "FLEX_PACK" ? funding.id : null,
    amountMicros: toDbMicros(settlement.amountMicros),
    settledAt: now,
  }));

/** Reseller fields as columns: the facet lists are stored as JSON arrays. */
export const toResellerRow = (fields: Partial<ResellerFields>) => ({
  ...fields,
  locations: fields.locations && JSON.stringify(fields.locations),
  languages: fields.languages && JSON.stringify(fields.languages),
  services: fields.services && JSON.stringify(fields.services),
});

/** Escapes LIKE wildcards so a search for "50%" finds "50%", not everything. */
export function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** An integer as an engine returns it: SQLite's safe-integer mode gives bigint, PostgreSQL's sums exact text. */
type DbInteger = number | bigint | string;

/** A usage export row as either engine's EXPORT_PAGE query returns it; a sum over no parts is null. */
export type ExportPageRow = {
  id: DbInteger;
  occurredAt: DbInteger;
  eventId: string;
  apiCode: string;
  clientId: string | null;
  quantity: DbInteger;
  outcome: Outcome;
  tokens: DbInteger;
  credits: DbInteger | null;
  tokenFlex: DbInteger | null;
  flex: DbInteger | null;
  payg: DbInteger | null;
  deficit: DbInteger | null;
  units: DbInteger | null;
  overrunUnits: DbInteger | null;
};

const exact = (value: DbInteger | null): bigint => BigInt(value ?? 0);

/** Ids, instants and counts are safe integers, whatever type an engine hands them over as; anything else means corrupt data. */
export function safeInteger(value: unknown): number {
  const number = Number(value);
  if (!Number.isSafeInteger(number)) throw new RangeError(`stored integer ${String(value)} is not a safe integer`);
  return number;
}

/** One keyset page of the usage export; `next` is null when fewer than `limit` rows came back. */
export function toExportPage(page: readonly ExportPageRow[], limit: number): ExportPage {
  const rows = page.map((row) => ({
    occurredAt: safeInteger(row.occurredAt),
    eventId: row.eventId,
    apiCode: row.apiCode,
    clientId: row.clientId,
    quantityMicros: exact(row.quantity),
    outcome: row.outcome,
    tokensMicros: exact(row.tokens),
    creditsMicros: exact(row.credits),
    flexMicros: exact(row.flex),
    deficitMicros: exact(row.deficit),
    units: row.units === null ? null : exact(row.units),
    tokenFlexMicros: exact(row.tokenFlex),
    paygMicros: exact(row.payg),
    overrunUnits: exact(row.overrunUnits),
  }));
  const last = page.at(-1);
  return { rows, next: page.length < limit || !last ? null : { occurredAt: safeInteger(last.occurredAt), chargeId: safeInteger(last.id) } };
}
