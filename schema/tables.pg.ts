/**
 * The PostgreSQL tables: the same tables, columns, nullability and indexes as the SQLite ones in
 * tables.ts (a drift test holds the two equal). Amounts and instants are bigint: micro-tokens and
 * milliseconds outgrow 32 bits. They are read as JS numbers with the same safe-integer checks as
 * on SQLite. Ids are bigint identities, as SQLite's rowids are 64-bit.
 */
import { sql } from "drizzle-orm";
import { bigint, boolean, index, pgTable, text, uniqueIndex } from "drizzle-orm/pg-core";

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
    source: text("source", { enum: ["CREDIT_LOT", "FLEX_PACK", "DEFICIT"] }).notNull(),
    creditLotId: int("credit_lot_id").references(() => creditLots.id),
    flexPackId: int("flex_pack_id").references(() => flexPacks.id),
    amountMicros: int("amount_micros").notNull(),
    occurredAt: int("occurred_at").notNull(),
  },
  (t) => [index("allocations_charge_idx").on(t.chargeId), index("allocations_deficit_idx").on(t.accountId, t.source)],
);

export const deficitSettlements = pgTable(
  "deficit_settlements",
  {
    id: id(),
    accountId: int("account_id").notNull().references(() => accounts.id),
    allocationId: int("allocation_id")
      .notNull()
      .references(() => allocations.id),
    source: text("source", { enum: ["CREDIT_LOT", "FLEX_PACK"] }).notNull(),
    creditLotId: int("credit_lot_id").references(() => creditLots.id),
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
};
