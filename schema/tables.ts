/**
 * The SQLite tables, as drizzle definitions. Amounts are integer micro-tokens (`…Micros`),
 * instants integer milliseconds since the epoch, UTC (`…At`). The ledger tables (charges,
 * allocations, settlements, reversals, lots, packs) are append-only except for the cached
 * `remaining_micros` and the account's deficit, which always equal what the ledger recomputes.
 */
import { sql } from "drizzle-orm";
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

const id = () => integer("id").primaryKey({ autoIncrement: true });
const flag = (name: string) => integer(name, { mode: "boolean" }).notNull().default(false);
const json = (name: string) => text(name).notNull().default("[]");

export const resellers = sqliteTable("resellers", {
  id: id(),
  name: text("name").notNull(),
  tier: text("tier", { enum: ["PLATINUM", "GOLD"] }).notNull(),
  flexAgreement: flag("flex_agreement"),
  active: integer("active", { mode: "boolean" }).notNull().default(true),
  /** JSON arrays of the Customer Success Hub facets. */
  locations: json("locations"),
  languages: json("languages"),
  services: json("services"),
  demo: flag("demo"),
  createdAt: integer("created_at").notNull(),
  updatedAt: integer("updated_at").notNull(),
});

export const accounts = sqliteTable(
  "accounts",
  {
    id: id(),
    name: text("name").notNull(),
    country: text("country"),
    resellerId: integer("reseller_id").references(() => resellers.id),
    balancePolicy: text("balance_policy", { enum: ["NEGATIVE_WITH_GRACE", "HARD_STOP"] }).notNull(),
    deficitMicros: integer("deficit_micros").notNull().default(0),
    graceStartedAt: integer("grace_started_at"),
    demo: flag("demo"),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [index("accounts_reseller_idx").on(t.resellerId, t.id)],
);

export const creditLots = sqliteTable(
  "credit_lots",
  {
    id: id(),
    accountId: integer("account_id").notNull().references(() => accounts.id),
    amountMicros: integer("amount_micros").notNull(),
    remainingMicros: integer("remaining_micros").notNull(),
    purchasedAt: integer("purchased_at").notNull(),
    expiresAt: integer("expires_at").notNull(),
    externalRef: text("external_ref").notNull(),
    fingerprint: text("fingerprint").notNull(),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [uniqueIndex("credit_lots_external_ref_idx").on(t.externalRef), index("credit_lots_account_idx").on(t.accountId)],
);

export const flexPacks = sqliteTable(
  "flex_packs",
  {
    id: id(),
    accountId: integer("account_id").notNull().references(() => accounts.id),
    tokensMicros: integer("tokens_micros").notNull(),
    remainingMicros: integer("remaining_micros").notNull(),
    purchasedAt: integer("purchased_at").notNull(),
    expiresAt: integer("expires_at").notNull(),
    channel: text("channel", { enum: ["RESELLER", "ESTORE"] }).notNull(),
    resellerId: integer("reseller_id").references(() => resellers.id),
    orderRef: text("order_ref").notNull(),
    unitPrice: text("unit_price"),
    currency: text("currency"),
    fingerprint: text("fingerprint").notNull(),
    createdAt: integer("created_at").notNull(),
  },
  // Order references are the seller's own numbers, unique per seller (domain §3): per reseller,
  // and among eStore sales, which have no reseller (NULLs are never equal in a unique index).
  (t) => [
    uniqueIndex("flex_packs_reseller_order_ref_idx").on(t.resellerId, t.orderRef).where(sql`${t.resellerId} is not null`),
    uniqueIndex("flex_packs_estore_order_ref_idx").on(t.orderRef).where(sql`${t.resellerId} is null`),
    index("flex_packs_account_idx").on(t.accountId),
  ],
);

/** Token Flex pools (domain §8): tokens of an enterprise agreement, imported by operators. */
export const tokenFlexPools = sqliteTable(
  "token_flex_pools",
  {
    id: id(),
    accountId: integer("account_id").notNull().references(() => accounts.id),
    tokensMicros: integer("tokens_micros").notNull(),
    remainingMicros: integer("remaining_micros").notNull(),
    startsAt: integer("starts_at").notNull(),
    endsAt: integer("ends_at").notNull(),
    externalRef: text("external_ref").notNull(),
    fingerprint: text("fingerprint").notNull(),
    createdAt: integer("created_at").notNull(),
    /**
     * When the pool came in as new funds and settled what the account owed: at its import when
     * its term had started, else once the term starts (FundingService.settleStartedPools); null
     * until then. Set once: a pool settles a deficit as it comes in, never again later.
     */
    startSettledAt: integer("start_settled_at"),
  },
  (t) => [uniqueIndex("token_flex_pools_external_ref_idx").on(t.externalRef), index("token_flex_pools_account_idx").on(t.accountId)],
);

/** Each account's effective-dated plan history (domain §8); an account without rows is LEGACY. */
export const planEnrollments = sqliteTable(
  "plan_enrollments",
  {
    id: id(),
    accountId: integer("account_id").notNull().references(() => accounts.id),
    tier: text("tier", { enum: ["FREE", "PAID"] }).notNull(),
    payg: flag("payg"),
    effectiveFrom: integer("effective_from").notNull(),
    enrolledBy: text("enrolled_by").notNull(),
    enrolledAt: integer("enrolled_at").notNull(),
  },
  (t) => [uniqueIndex("plan_enrollments_account_idx").on(t.accountId, t.effectiveFrom)],
);

/** Free caps per API, effective-dated and append-only like price versions. */
export const freeCaps = sqliteTable("free_caps", {
  id: id(),
  apiCode: text("api_code").notNull(),
  unitsPerMonth: integer("units_per_month").notNull(),
  effectiveFrom: integer("effective_from").notNull(),
  note: text("note"),
  publishedBy: text("published_by").notNull(),
  publishedAt: integer("published_at").notNull(),
});

/** The partial unit not yet charged, per account and remainderKey (apiCode|meterSince|month). */
export const unitRemainders = sqliteTable(
  "unit_remainders",
  {
    accountId: integer("account_id").notNull().references(() => accounts.id),
    key: text("key").notNull(),
    quantityMicros: integer("quantity_micros").notNull(),
  },
  (t) => [primaryKey({ columns: [t.accountId, t.key] })],
);

/** What a FREE account used of one API's allowance in one calendar month (UTC). */
export const freeMonths = sqliteTable(
  "free_months",
  {
    accountId: integer("account_id").notNull().references(() => accounts.id),
    apiCode: text("api_code").notNull(),
    /** "YYYY-MM" */
    month: text("month").notNull(),
    usedUnits: integer("used_units").notNull(),
    overrunUnits: integer("overrun_units").notNull(),
    latestAt: integer("latest_at"),
    /** JSON [[units, instant], …]: when the used units first reached each cap level (FreeMonth.reaches). */
    reaches: json("reaches"),
  },
  (t) => [primaryKey({ columns: [t.accountId, t.apiCode, t.month] })],
);

/**
 * PAYG parts: positive from rating, negative from a reversal. A statement is the sum of the
 * parts of its statement month (a final statement never changes, so late parts go on a later one).
 */
export const paygParts = sqliteTable(
  "payg_parts",
  {
    id: id(),
    accountId: integer("account_id").notNull().references(() => accounts.id),
    chargeId: integer("charge_id")
      .notNull()
      .references(() => usageCharges.id),
    statementMonth: text("statement_month").notNull(),
    apiCode: text("api_code").notNull(),
    units: integer("units").notNull(),
    tokensMicros: integer("tokens_micros").notNull(),
    bookedAt: integer("booked_at").notNull(),
  },
  (t) => [index("payg_parts_statement_idx").on(t.accountId, t.statementMonth), index("payg_parts_charge_idx").on(t.chargeId)],
);

export const priceEntries = sqliteTable(
  "price_entries",
  {
    id: id(),
    apiCode: text("api_code").notNull(),
    name: text("name").notNull(),
    meter: text("meter", { enum: ["SECOND", "JOB", "PHOTO", "CALL", "GIGAPIXEL", "MEGABYTE"] }).notNull(),
    unitQuantity: integer("unit_quantity").notNull(),
    tokensPerUnitMicros: integer("tokens_per_unit_micros").notNull(),
    /** Comma-separated UsageOutcome values that are billed. */
    chargeableOutcomes: text("chargeable_outcomes").notNull(),
    effectiveFrom: integer("effective_from").notNull(),
    retired: flag("retired"),
    note: text("note").notNull(),
    publishedBy: text("published_by").notNull(),
    publishedAt: integer("published_at").notNull(),
  },
  (t) => [index("price_entries_code_idx").on(t.apiCode, t.effectiveFrom)],
);

/** Cancelling a scheduled version adds a row here; the version itself is never edited. */
export const priceCancellations = sqliteTable("price_cancellations", {
  priceEntryId: integer("price_entry_id")
    .primaryKey()
    .references(() => priceEntries.id),
  reason: text("reason").notNull(),
  cancelledBy: text("cancelled_by").notNull(),
  cancelledAt: integer("cancelled_at").notNull(),
});

export const usageCharges = sqliteTable(
  "usage_charges",
  {
    id: id(),
    eventId: text("event_id").notNull(),
    fingerprint: text("fingerprint").notNull(),
    accountId: integer("account_id").notNull().references(() => accounts.id),
    apiCode: text("api_code").notNull(),
    priceEntryId: integer("price_entry_id")
      .notNull()
      .references(() => priceEntries.id),
    quantityMicros: integer("quantity_micros").notNull(),
    outcome: text("outcome", { enum: ["SUCCEEDED", "FAILED", "CANCELLED"] }).notNull(),
    occurredAt: integer("occurred_at").notNull(),
    ratedAt: integer("rated_at").notNull(),
    clientId: text("client_id"),
    /** JSON object of free-form string labels. */
    labels: text("labels").notNull().default("{}"),
    tokensMicros: integer("tokens_micros").notNull(),
    /** Whole charged units of a FREE or PAID event (domain §8); null for a LEGACY event. */
    units: integer("units"),
  },
  (t) => [
    uniqueIndex("usage_charges_event_idx").on(t.eventId),
    index("usage_charges_account_occurred_idx").on(t.accountId, t.occurredAt),
    index("usage_charges_account_id_idx").on(t.accountId, t.id),
    index("usage_charges_occurred_idx").on(t.occurredAt),
  ],
);

export const allocations = sqliteTable(
  "allocations",
  {
    id: id(),
    chargeId: integer("charge_id")
      .notNull()
      .references(() => usageCharges.id),
    accountId: integer("account_id").notNull().references(() => accounts.id),
    source: text("source", { enum: ["FREE_ALLOWANCE", "OVERRUN", "CREDIT_LOT", "TOKEN_FLEX", "FLEX_PACK", "PAYG", "DEFICIT"] }).notNull(),
    creditLotId: integer("credit_lot_id").references(() => creditLots.id),
    tokenFlexPoolId: integer("token_flex_pool_id").references(() => tokenFlexPools.id),
    flexPackId: integer("flex_pack_id").references(() => flexPacks.id),
    amountMicros: integer("amount_micros").notNull(),
    /** Whole charged units of a FREE_ALLOWANCE, OVERRUN or PAYG part; null otherwise. */
    units: integer("units"),
    /** The usage time of the charge (the ledger check and past deficits read it here). */
    occurredAt: integer("occurred_at").notNull(),
  },
  // No index by lot or pack: no query looks allocations up by the source that paid them (the
  // ledger check groups them in one pass), and each index cost about a tenth of rating an event.
  // Lots and packs are never deleted or re-keyed, so their foreign keys need no child index.
  // Deficit parts only, by account and id: settlements read an account's parts newest first until
  // they add up to what it owes, and past deficits look them up by account. An account's other
  // parts are found through its charges (usage_charges by account and time), so rating writes no
  // entry per account here for every event, about a tenth of rating one.
  (t) => [index("allocations_charge_idx").on(t.chargeId), index("allocations_deficit_idx").on(t.accountId, t.id).where(sql`${t.source} = 'DEFICIT'`)],
);

/** New funds paying a deficit allocation: which lot or pack paid how much of which allocation. */
export const deficitSettlements = sqliteTable(
  "deficit_settlements",
  {
    id: id(),
    accountId: integer("account_id").notNull().references(() => accounts.id),
    allocationId: integer("allocation_id")
      .notNull()
      .references(() => allocations.id),
    source: text("source", { enum: ["CREDIT_LOT", "TOKEN_FLEX", "FLEX_PACK"] }).notNull(),
    creditLotId: integer("credit_lot_id").references(() => creditLots.id),
    tokenFlexPoolId: integer("token_flex_pool_id").references(() => tokenFlexPools.id),
    flexPackId: integer("flex_pack_id").references(() => flexPacks.id),
    amountMicros: integer("amount_micros").notNull(),
    settledAt: integer("settled_at").notNull(),
  },
  (t) => [
    index("deficit_settlements_allocation_idx").on(t.allocationId),
    index("deficit_settlements_account_idx").on(t.accountId),
  ],
);

export const reversals = sqliteTable(
  "reversals",
  {
    id: id(),
    chargeId: integer("charge_id")
      .notNull()
      .references(() => usageCharges.id),
    reason: text("reason").notNull(),
    reversedBy: text("reversed_by").notNull(),
    reversedAt: integer("reversed_at").notNull(),
  },
  (t) => [uniqueIndex("reversals_charge_idx").on(t.chargeId)],
);

export const apiKeys = sqliteTable(
  "api_keys",
  {
    id: id(),
    name: text("name").notNull(),
    role: text("role", { enum: ["OPERATOR", "PARTNER", "METERING", "INTEGRATOR"] }).notNull(),
    resellerId: integer("reseller_id").references(() => resellers.id),
    /** SHA-256 of the secret; the secret itself is shown once and never stored. */
    secretHash: text("secret_hash").notNull(),
    /** The first characters of the secret, so people can tell keys apart. */
    secretPrefix: text("secret_prefix").notNull(),
    createdBy: text("created_by").notNull(),
    createdAt: integer("created_at").notNull(),
    revokedAt: integer("revoked_at"),
  },
  (t) => [uniqueIndex("api_keys_hash_idx").on(t.secretHash)],
);

export const auditLog = sqliteTable(
  "audit_log",
  {
    id: id(),
    at: integer("at").notNull(),
    actor: text("actor").notNull(),
    actorRole: text("actor_role").notNull(),
    action: text("action").notNull(),
    entityType: text("entity_type").notNull(),
    entityId: text("entity_id").notNull(),
    /** JSON snapshots; null where the entity did not exist before (or after). */
    before: text("before"),
    after: text("after"),
  },
  (t) => [index("audit_log_entity_idx").on(t.entityType, t.entityId)],
);

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

