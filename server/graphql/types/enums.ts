import { registerEnumType } from "type-graphql";

/**
 * GraphQL enums. Each is a plain object whose values equal the strings the core uses, so enum
 * values pass between the API and the services unchanged.
 */
export const Role = { OPERATOR: "OPERATOR", PARTNER: "PARTNER", METERING: "METERING", INTEGRATOR: "INTEGRATOR" } as const;
export const BalancePolicy = { NEGATIVE_WITH_GRACE: "NEGATIVE_WITH_GRACE", HARD_STOP: "HARD_STOP" } as const;
export const AccountStatus = { ACTIVE: "ACTIVE", GRACE: "GRACE", RESTRICTED: "RESTRICTED" } as const;
export const PartnerTier = { PLATINUM: "PLATINUM", GOLD: "GOLD" } as const;
export const SalesChannel = { RESELLER: "RESELLER", ESTORE: "ESTORE" } as const;
export const Meter = { SECOND: "SECOND", JOB: "JOB", PHOTO: "PHOTO", CALL: "CALL", GIGAPIXEL: "GIGAPIXEL", MEGABYTE: "MEGABYTE" } as const;
export const UsageOutcome = { SUCCEEDED: "SUCCEEDED", FAILED: "FAILED", CANCELLED: "CANCELLED" } as const;
export const PriceStatus = { SCHEDULED: "SCHEDULED", ACTIVE: "ACTIVE", SUPERSEDED: "SUPERSEDED", CANCELLED: "CANCELLED" } as const;
export const AllocationSource = {
  CREDIT_LOT: "CREDIT_LOT",
  FLEX_PACK: "FLEX_PACK",
  DEFICIT: "DEFICIT",
  FREE_ALLOWANCE: "FREE_ALLOWANCE",
  OVERRUN: "OVERRUN",
  TOKEN_FLEX: "TOKEN_FLEX",
  PAYG: "PAYG",
} as const;
export const UsageGrouping = { DAY: "DAY", MONTH: "MONTH" } as const;
export const ChargeOrder = { OCCURRED_AT_DESC: "OCCURRED_AT_DESC", OCCURRED_AT_ASC: "OCCURRED_AT_ASC", BOOKED_DESC: "BOOKED_DESC", BOOKED_ASC: "BOOKED_ASC" } as const;
export const AlertKind = {
  LOW_BALANCE: "LOW_BALANCE",
  EXPIRING_SOON: "EXPIRING_SOON",
  DEFICIT: "DEFICIT",
  RESTRICTED: "RESTRICTED",
  FREE_CAP_NEAR: "FREE_CAP_NEAR",
  API_SUSPENDED: "API_SUSPENDED",
} as const;
export const PlanTier = { LEGACY: "LEGACY", FREE: "FREE", PAID: "PAID" } as const;
export const StatementStatus = { OPEN: "OPEN", FINAL: "FINAL" } as const;

registerEnumType(Role, {
  name: "Role",
  description: "What an API key may do.",
  valuesConfig: {
    OPERATOR: { description: "Runs Flexgate: every query and mutation." },
    PARTNER: { description: "A reseller's portal: reads its own customers' accounts and records Flex purchases for them." },
    METERING: { description: "A metering pipeline: records and quotes usage events." },
    INTEGRATOR: { description: "Builds against the API: introspection, the price table and the reseller directory." },
  },
});

registerEnumType(BalancePolicy, {
  name: "BalancePolicy",
  description: "What happens when an account's balance cannot cover a usage event.",
  valuesConfig: {
    NEGATIVE_WITH_GRACE: { description: "The rest becomes a deficit; after a 14-day grace period the account is restricted (APS rule 2022-11 to 2025-12). The default." },
    HARD_STOP: { description: "Prepay only: the event is refused with INSUFFICIENT_BALANCE and nothing is written (APS rule from 2025-12-08)." },
  },
});

registerEnumType(AccountStatus, {
  name: "AccountStatus",
  description: "Whether an account may use priced APIs now.",
  valuesConfig: {
    ACTIVE: { description: "Owes nothing." },
    GRACE: { description: "Owes a deficit and is inside its 14-day grace period: usage still works." },
    RESTRICTED: { description: "Owes a deficit past its grace period: only free usage is accepted until the deficit is paid." },
  },
});

registerEnumType(PartnerTier, {
  name: "PartnerTier",
  description: "Autodesk partner tier of a reseller.",
  valuesConfig: { PLATINUM: { description: "Autodesk Platinum partner." }, GOLD: { description: "Autodesk Gold partner." } },
});

registerEnumType(SalesChannel, {
  name: "SalesChannel",
  description: "Where a Flex pack was bought.",
  valuesConfig: {
    RESELLER: { description: "From an authorised reseller that has signed the Flex agreement." },
    ESTORE: { description: "On the Autodesk eStore (Flex sales from 2023-07-07)." },
  },
});

registerEnumType(Meter, {
  name: "Meter",
  description: "What a usage quantity counts.",
  valuesConfig: {
    SECOND: { description: "Processing seconds (Design Automation, Flow Graph Engine)." },
    JOB: { description: "Jobs (Model Derivative translations)." },
    PHOTO: { description: "Photos processed (Reality Capture since 2022-09-07)." },
    CALL: { description: "API calls." },
    GIGAPIXEL: { description: "Gigapixels processed (Reality Capture before 2022-09-07)." },
    MEGABYTE: { description: "Megabytes processed." },
  },
});

registerEnumType(UsageOutcome, {
  name: "UsageOutcome",
  description: "How the metered job ended; the price entry says which outcomes are billed.",
  valuesConfig: {
    SUCCEEDED: { description: "The job succeeded." },
    FAILED: { description: "The job failed (free for Model Derivative and Reality Capture)." },
    CANCELLED: { description: "The job was cancelled (charged for Reality Capture once processing started)." },
  },
});

registerEnumType(PriceStatus, {
  name: "PriceStatus",
  description: "Where a price version stands now.",
  valuesConfig: {
    SCHEDULED: { description: "Takes effect in the future; can still be cancelled." },
    ACTIVE: { description: "In force now." },
    SUPERSEDED: { description: "Replaced by a later version; still explains past charges." },
    CANCELLED: { description: "Cancelled before it took effect; never priced anything." },
  },
});

registerEnumType(AllocationSource, {
  name: "AllocationSource",
  description: "What paid part of a charge.",
  valuesConfig: {
    CREDIT_LOT: { description: "A cloud-credit lot (always drained before Flex tokens)." },
    FLEX_PACK: { description: "A Flex pack." },
    DEFICIT: { description: "Nothing was left: the part became a deficit on the account." },
    FREE_ALLOWANCE: { description: "FREE plan: whole units within the month's free cap; no tokens." },
    OVERRUN: { description: "FREE plan: whole units beyond the month's free cap, recorded and never billed; the API is suspended until the next month." },
    TOKEN_FLEX: { description: "A Token Flex pool (enterprise agreement), drained before Flex packs." },
    PAYG: { description: "PAID with PAYG: what pools and packs could not pay, billed on the monthly PAYG statement." },
  },
});

registerEnumType(UsageGrouping, {
  name: "UsageGrouping",
  description: "The period of a usage summary row, in UTC.",
  valuesConfig: { DAY: { description: "One row per UTC day." }, MONTH: { description: "One row per UTC calendar month." } },
});

registerEnumType(AlertKind, {
  name: "AlertKind",
  description: "A signal a portal can show about an account's balance.",
  valuesConfig: {
    LOW_BALANCE: { description: "Available tokens are under 20% of the tokens bought in the last 12 months." },
    EXPIRING_SOON: { description: "Tokens expire within 90 days." },
    DEFICIT: { description: "The account owes a deficit; `at` is when its grace period ends." },
    RESTRICTED: { description: "The grace period is over: priced usage is refused until the deficit is paid." },
    FREE_CAP_NEAR: { description: "FREE plan: 80% or more of an API's monthly free cap is used." },
    API_SUSPENDED: { description: "FREE plan: an API's monthly free cap is used up; it is refused until the next month (`at`)." },
  },
});

registerEnumType(PlanTier, {
  name: "PlanTier",
  description: "The billing regime of an account (APS tiered model from 2025-12-08).",
  valuesConfig: {
    LEGACY: { description: "Before any enrollment: exact per-event rating, credit-first drain, deficit with grace or hard stop." },
    FREE: { description: "Free tier: whole charged units free up to each API's monthly cap; beyond it the API is suspended until the next month." },
    PAID: { description: "Paid tier: whole charged units paid by Token Flex pools, then Flex packs, then PAYG when enrolled; prepay only restricts at once when they run out." },
  },
});

registerEnumType(StatementStatus, {
  name: "StatementStatus",
  description: "Whether a PAYG statement can still change.",
  valuesConfig: {
    OPEN: { description: "Until 3 days after its month ends: late usage of the month still goes on it." },
    FINAL: { description: "Never changes again: PAYG usage booked later goes on the statement of the month it is booked in." },
  },
});

registerEnumType(ChargeOrder, {
  name: "ChargeOrder",
  description: "The order of an account's charges. Ties are broken by booking order, so every order is total and paging never skips or repeats a charge.",
  valuesConfig: {
    OCCURRED_AT_DESC: { description: "The most recent usage first, by occurredAt. The default: what a portal shows." },
    OCCURRED_AT_ASC: { description: "The oldest usage first, by occurredAt." },
    BOOKED_DESC: { description: "The most recently booked first (the order charges were rated in, by id): usage reported late appears where it was recorded." },
    BOOKED_ASC: { description: "The first booked first, by id: a feed to follow, as new charges always come last." },
  },
});
