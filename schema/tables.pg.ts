/**
 * The PostgreSQL tables: the same tables, columns, nullability and indexes as the SQLite ones in
 * tables.ts (a drift test holds the two equal). Amounts and instants are bigint: micro-tokens and
 * milliseconds outgrow 32 bits. They are read as JS numbers with the same safe-integer checks as
 * on SQLite. Ids are bigint identities, as SQLite's rowids are 64-bit.
 */
import { sql } from "drizzle-orm";
import { bigint, boolean, index, pgTable, primaryKey, text, uniqueIndex } from "drizzle-orm/pg-core";

const int = (name: string) => bigint(name, { mode: "number" });
const id = () => int("id").primaryKey().generatedByDefaultAsIdentity();
const flag = (name: string) => boolean(name).notNull().default(false);
const json = (name: string) => text(name).notNull().default("[]");

export const resellers = pgTable("resellers", {
  id: id(),
  name: text("name").notNull(),
  tier: text("tier", { enum: ["PLATINUM", "GOLD"] }).notNull(),
  flexAgreement: flag("flex_agreement"),
  active: boolean("active").notNull().default(true),
  locations: json("locations"),
  languages: json("languages"),
  services: json("services"),
  demo: flag("demo"),
  createdAt: int("created_at").notNull(),
  updatedAt: int("updated_at").notNull(),
});

export const accounts = pgTable(
  "accounts",
  {
    id: id(),
    name: text("name").notNull(),
    country: text("country"),
    resellerId: int("reseller_id").references(() => resellers.id),
    balancePolicy: text("balance_policy", { enum: ["NEGATIVE_WITH_GRACE", "HARD_STOP"] }).notNull(),
    deficitMicros: int("deficit_micros").notNull().default(0),
    graceStartedAt: int("grace_started_at"),
    demo: flag("demo"),
    createdAt: int("created_at").notNull(),
    updatedAt: int("updated_at").notNull(),
  },
  (t) => [index("accounts_reseller_idx").on(t.resellerId, t.id)],
);

export const creditLots = pgTable(
  "credit_lots",
  {
    id: id(),
    accountId: int("account_id").notNull().references(() => accounts.id),
    amountMicros: int("amount_micros").notNull(),
    remainingMicros: int("remaining_micros").notNull(),
    purchasedAt: int("purchased_at").notNull(),
    expiresAt: int("expires_at").notNull(),
    externalRef: text("external_ref").notNull(),
    fingerprint: text("fingerprint").notNull(),
    createdAt: int("created_at").notNull(),
  },
  (t) => [uniqueIndex("credit_lots_external_ref_idx").on(t.externalRef), index("credit_lots_account_idx").on(t.accountId)],
);

export const flexPacks = pgTable(
  "flex_packs",
  {
    id: id(),
    accountId: int("account_id").notNull().references(() => accounts.id),
    tokensMicros: int("tokens_micros").notNull(),
    remainingMicros: int("remaining_micros").notNull(),
    purchasedAt: int("purchased_at").notNull(),
    expiresAt: int("expires_at").notNull(),
    channel: text("channel", { enum: ["RESELLER", "ESTORE"] }).notNull(),
    resellerId: int("reseller_id").references(() => resellers.id),
    orderRef: text("order_ref").notNull(),
    unitPrice: text("unit_price"),
    currency: text("currency"),
    fingerprint: text("fingerprint").notNull(),
    createdAt: int("created_at").notNull(),
  },
  // Order references are unique per seller: per reseller, and among eStore sales (no reseller).
  (t) => [
    uniqueIndex("flex_packs_reseller_order_ref_idx").on(t.resellerId, t.orderRef).where(sql`${t.resellerId} is not null`),
    uniqueIndex("flex_packs_estore_order_ref_idx").on(t.orderRef).where(sql`${t.resellerId} is null`),
    index("flex_packs_account_idx").on(t.accountId),
  ],
);

/** Token Flex pools (domain §8): tokens of an enterprise agreement, imported by operators. */
export const tokenFlexPools = pgTable(
  "token_flex_pools",
  {
    id: id(),
    accountId: int("account_id").notNull().references(() => accounts.id),
    tokensMicros: int("tokens_micros").notNull(),
    remainingMicros: int("remaining_micros").notNull(),
    startsAt: int("starts_at").notNull(),
    endsAt: int("ends_at").notNull(),
    externalRef: text("external_ref").notNull(),
    fingerprint: text("fingerprint").notNull(),
    createdAt: int("created_at").notNull(),
    /**
     * When the pool came in as new funds and settled what the account owed: at its import when
     * its term had started, else once the term starts (FundingService.settleStartedPools); null
     * until then. Set once: a pool settles a deficit as it comes in, never again later.
     */
    startSettledAt: int("start_settled_at"),
  },
  (t) => [uniqueIndex("token_flex_pools_external_ref_idx").on(t.externalRef), index("token_flex_pools_account_idx").on(t.accountId)],
);

/** Each account's effective-dated plan history (domain §8); an account without rows is LEGACY. */
export const planEnrollments = pgTable(
  "plan_enrollments",
  {
    id: id(),
    accountId: int("account_id").notNull().references(() => accounts.id),
    tier: text("tier", { enum: ["FREE", "PAID"] }).notNull(),
    payg: flag("payg"),
    effectiveFrom: int("effective_from").notNull(),
    enrolledBy: text("enrolled_by").notNull(),
    enrolledAt: int("enrolled_at").notNull(),
  },
  (t) => [uniqueIndex("plan_enrollments_account_idx").on(t.accountId, t.effectiveFrom)],
);

/** Free caps per API, effective-dated and append-only like price versions. */
export const freeCaps = pgTable("free_caps", {
  id: id(),
  apiCode: text("api_code").notNull(),
  unitsPerMonth: int("units_per_month").notNull(),
  effectiveFrom: int("effective_from").notNull(),
  note: text("note"),
  publishedBy: text("published_by").notNull(),
  publishedAt: int("published_at").notNull(),
});

/** The partial unit not yet charged, per account and remainderKey (apiCode|meterSince|month). */
export const unitRemainders = pgTable(
  "unit_remainders",
  {
    accountId: int("account_id").notNull().references(() => accounts.id),
    key: text("key").notNull(),
    quantityMicros: int("quantity_micros").notNull(),
  },
  (t) => [primaryKey({ columns: [t.accountId, t.key] })],
);

/** What a FREE account used of one API's allowance in one calendar month (UTC). */
export const freeMonths = pgTable(
  "free_months",
  {
    accountId: int("account_id").notNull().references(() => accounts.id),
    apiCode: text("api_code").notNull(),
    /** "YYYY-MM" */
    month: text("month").notNull(),
    usedUnits: int("used_units").notNull(),
    overrunUnits: int("overrun_units").notNull(),
    latestAt: int("latest_at"),
    /** JSON [[units, instant], …]: when the used units first reached each cap level (FreeMonth.reaches). */
    reaches: json("reaches"),
  },
  (t) => [primaryKey({ columns: [t.accountId, t.apiCode, t.month] })],
);

/**
 * PAYG parts: positive from rating, negative from a reversal. A statement is the sum of the
 * parts of its statement month (a final statement never changes, so late parts go on a later one).
 */
export const paygParts = pgTable(
  "payg_parts",
  {
    id: id(),
    accountId: int("account_id").notNull().references(() => accounts.id),
    chargeId: int("charge_id")
      .notNull()
      .references(() => usageCharges.id),
    statementMonth: text("statement_month").notNull(),
    apiCode: text("api_code").notNull(),
    units: int("units").notNull(),
    tokensMicros: int("tokens_micros").notNull(),
    bookedAt: int("booked_at").notNull(),
  },
  (t) => [index("payg_parts_statement_idx").on(t.accountId, t.statementMonth), index("payg_parts_charge_idx").on(t.chargeId)],
);

export const priceEntries = pgTable(
  "price_entries",
  {
    id: id(),
    apiCode: text("api_code").notNull(),
    name: text("name").notNull(),
    meter: text("meter", { enum: ["SECOND", "JOB", "PHOTO", "CALL", "GIGAPIXEL", "MEGABYTE"] }).notNull(),
    unitQuantity: int("unit_quantity").notNull(),
    tokensPerUnitMicros: int("tokens_per_unit_micros").notNull(),
    chargeableOutcomes: text("chargeable_outcomes").notNull(),
    effectiveFrom: int("effective_from").notNull(),
    retired: flag("retired"),
    note: text("note").notNull(),
    publishedBy: text("published_by").notNull(),
    publishedAt: int("published_at").notNull(),
  },
  (t) => [index("price_entries_code_idx").on(t.apiCode, t.effectiveFrom)],
);

export const priceCancellations = pgTable("price_cancellations", {
  priceEntryId: int("price_entry_id")
    .primaryKey()
    .references(() => priceEntries.id),
  reason: text("reason").notNull(),
  cancelledBy: text("cancelled_by").notNull(),
  cancelledAt: int("cancelled_at").notNull(),
});

export const usageCharges = pgTable(
  "usage_charges",
  {
    id: id(),
    eventId: text("event_id").notNull(),
    fingerprint: text("fingerprint").notNull(),
    accountId: int("account_id").notNull().references(() => accounts.id),
    apiCode: text("api_code").notNull(),
    priceEntryId: int("price_entry_id")
      .notNull()
      .references(() => priceEntries.id),
    quantityMicros: int("quantity_micros").notNull(),
    outcome: text("outcome", { enum: ["SUCCEEDED", "FAILED", "CANCELLED"] }).notNull(),
    occurredAt: int("occurred_at").notNull(),
    ratedAt: int("rated_at").notNull(),
    clientId: text("client_id"),
    labels: text("labels").notNull().default("{}"),
    tokensMicros: int("tokens_micros").notNull(),
    /** Whole charged units of a FREE or PAID event (domain §8); null for a LEGACY event. */
    units: int("units"),
  },
  (t) => [
    uniqueIndex("usage_charges_event_idx").on(t.eventId),
    index("usage_charges_account_occurred_idx").on(t.accountId, t.occurredAt),
    index("usage_charges_account_id_idx").on(t.accountId, t.id),
    index("usage_charges_occurred_idx").on(t.occurredAt),
  ],
);

export const allocations = pgTable(
  "allocations",
  {
    id: id(),
    chargeId: int("charge_id")
      .notNull()
      .references(() => usageCharges.id),
    accountId: int("account_id").notNull().references(() => accounts.id),
    source: text("source", { enum: ["FREE_ALLOWANCE", "OVERRUN", "CREDIT_LOT", "TOKEN_FLEX", "FLEX_PACK", "PAYG", "DEFICIT"] }).notNull(),
    creditLotId: int("credit_lot_id").references(() => creditLots.id),
    tokenFlexPoolId: int("token_flex_pool_id").references(() => tokenFlexPools.id),
    flexPackId: int("flex_pack_id").references(() => flexPacks.id),
    amountMicros: int("amount_micros").notNull(),
    /** Whole charged units of a FREE_ALLOWANCE, OVERRUN or PAYG part; null otherwise. */
    units: int("units"),
    occurredAt: int("occurred_at").notNull(),
  },
  // Deficit parts only, by account and id: settlements read an account's parts newest first until
  // they add up to what it owes, and past deficits look them up by account. An account's other
  // parts are found through its charges (usage_charges by account and time), so rating writes no
  // entry per account here for every event, about a tenth of rating one.
  (t) => [index("allocations_charge_idx").on(t.chargeId), index("allocations_deficit_idx").on(t.accountId, t.id).where(sql`${t.source} = 'DEFICIT'`)],
);

export const deficitSettlements = pgTable(
  "deficit_settlements",
  {
    id: id(),
    accountId: int("account_id").notNull().references(() => accounts.id),
    allocationId: int("allocation_id")
      .notNull()
      .references(() => allocations.id),
    source: text("source", { enum: ["CREDIT_LOT", "TOKEN_FLEX", "FLEX_PACK"] }).notNull(),
    creditLotId: int("credit_lot_id").references(() => creditLots.id),
    tokenFlexPoolId: int("token_flex_pool_id").references(() => tokenFlexPools.id),
    flexPackId: int("flex_pack_id").references(() => flexPacks.id),
    amountMicros: int("amount_micros").notNull(),
    settledAt: int("settled_at").notNull(),
  },
  (t) => [
    index("deficit_settlements_allocation_idx").on(t.allocationId),
    index("deficit_settlements_account_idx").on(t.accountId),
  ],
);

export const reversals = pgTable(
  "reversals",
  {
    id: id(),
    chargeId: int("charge_id")
      .notNull()
      .references(() => usageCharges.id),
    reason: text("reason").notNull(),
    reversedBy: text("reversed_by").notNull(),
    reversedAt: int("reversed_at").notNull(),
  },
  (t) => [uniqueIndex("reversals_charge_idx").on(t.chargeId)],
);

export const apiKeys = pgTable(
  "api_keys",
  {
    id: id(),
    name: text("name").notNull(),
    role: text("role", { enum: ["OPERATOR", "PARTNER", "METERING", "INTEGRATOR"] }).notNull(),
    resellerId: int("reseller_id").references(() => resellers.id),
    secretHash: text("secret_hash").notNull(),
    secretPrefix: text("secret_prefix").notNull(),
    createdBy: text("created_by").notNull(),
    createdAt: int("created_at").notNull(),
    revokedAt: int("revoked_at"),
  },
  (t) => [uniqueIndex("api_keys_hash_idx").on(t.secretHash)],
);

export const auditLog = pgTable(
  "audit_log",
  {
    id: id(),
    at: int("at").notNull(),
    actor: text("actor").notNull(),
    actorRole: text("actor_role").notNull(),
    action: text("action").notNull(),
    entityType: text("entity_type").notNull(),
    entityId: text("entity_id").notNull(),
    before: text("before"),
    after: text("after"),
  },
  (t) => [index("audit_log_entity_idx").on(t.entityType, t.entityId)],
);

/**
 * PostgreSQL only: the price book's change stamp, bumped in every transaction that publishes or
 * cancels a version. Ids there need not commit in order, so the highest id cannot serve as the
 * stamp the way it does on SQLite's single writer.
 */
export const priceBookVersion = pgTable("price_book_version", {
  id: bigint("id", { mode: "number" }).primaryKey(),
  version: int("version").notNull(),
});

export const schemaTables = {
  resellers,
  accounts,
  creditLots,
  flexPacks,
  priceEntries,
  priceCancellations,
  usageCharges,
  allocations,
  deficitSettlements,
  reversals,
  apiKeys,
  auditLog,
  tokenFlexPools,
  planEnrollments,
  freeCaps,
  unitRemainders,
  freeMonths,
  paygParts,
};
