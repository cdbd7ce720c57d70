import { Field, ID, InputType, Int, ObjectType } from "type-graphql";
import { DateTimeScalar, QuantityScalar, TokensScalar } from "../scalars.js";
import type { MaybeUnparsed } from "../unparsed.js";
import { Balance } from "./account.type.js";
import { connectionOf } from "./common.js";
import { AccountStatus, AlertKind, AllocationSource, UsageOutcome } from "./enums.js";
import { ErrorCode } from "./error-code.js";
import { PriceEntry } from "./price.type.js";
import { UnitRemainder } from "./tiered.type.js";
import { Roles } from "../roles.js";

@ObjectType({ description: "A free-form label on a usage event." })
export class UsageLabel {
  @Field(() => String, { description: "Label name." })
  key!: string;

  @Field(() => String, { description: "Label value." })
  value!: string;
}

@InputType({ description: "A free-form label on a usage event." })
export class UsageLabelInput {
  @Field(() => String, { description: "Label name (1–64 characters)." })
  key!: string;

  @Field(() => String, { description: "Label value (up to 256 characters)." })
  value!: string;
}

@ObjectType({ description: "The part of a charge paid by one lot, pool or pack, given from a free allowance, billed on PAYG or left as a deficit: the receipt." })
export class Allocation {
  @Field(() => AllocationSource, { description: "What paid this part." })
  source!: string;

  @Field(() => TokensScalar, { name: "amount", description: "Tokens of this part." })
  amountMicros!: bigint;

  creditLotId!: number | null;
  flexPackId!: number | null;
  tokenFlexPoolId!: number | null;
  units!: bigint | null;
}

@ObjectType({ description: "A rated usage event in the append-only ledger." })
export class UsageCharge {
  @Field(() => ID, { description: "Stable identifier." })
  id!: number;

  @Field(() => String, { description: "The caller's event id (idempotency key)." })
  eventId!: string;

  @Field(() => String, { description: "The metered API." })
  apiCode!: string;

  @Field(() => QuantityScalar, { name: "quantity", description: "Meter units used." })
  quantityMicros!: bigint;

  @Field(() => UsageOutcome, { description: "How the job ended." })
  outcome!: string;

  @Field(() => DateTimeScalar, { description: "When the usage happened: it picks the price and the lots and packs that pay." })
  occurredAt!: number;

  @Field(() => DateTimeScalar, { description: "When Flexgate rated and booked it." })
  ratedAt!: number;

  @Field(() => String, { nullable: true, description: "The APS app (client id) that made the call." })
  clientId!: string | null;

  @Field(() => TokensScalar, { name: "tokens", description: "Tokens charged: quantity × tokensPerUnit ÷ unitQuantity, rounded half-up to 0.000001 once." })
  tokensMicros!: bigint;

  @Field(() => DateTimeScalar, { nullable: true, description: "When the charge was reversed; null while it stands." })
  reversedAt!: number | null;

  accountId!: number;
  priceEntryId!: number;
  labels!: Readonly<Record<string, string>>;
  units!: bigint | null;
}

export const UsageChargeConnection = connectionOf(UsageCharge, "UsageCharge", "usage charge");

@InputType({ description: "A metered usage event." })
export class UsageInput {
  @Field(() => String, { description: "Caller-chosen unique id (1–128 printable ASCII): sending it again never charges twice." })
  eventId!: string;

  @Field(() => ID, { description: "The account that used the API." })
  accountId!: string;

  @Field(() => String, { description: "The metered API code." })
  apiCode!: string;

  @Field(() => QuantityScalar, { description: "Meter units used (seconds, jobs, photos…)." })
  quantity!: MaybeUnparsed<bigint>;

  @Field(() => UsageOutcome, { description: "How the job ended." })
  outcome!: "SUCCEEDED" | "FAILED" | "CANCELLED";

  @Field(() => DateTimeScalar, { description: "When it happened; at most 5 minutes in the future, however old." })
  occurredAt!: MaybeUnparsed<number>;

  @Field(() => String, { nullable: true, description: "The APS app (client id) that made the call." })
  clientId?: string | null;

  @Field(() => [UsageLabelInput], { nullable: true, description: "Free-form labels (at most 20)." })
  labels?: UsageLabelInput[] | null;
}

@InputType({ description: "Narrows an account's charges." })
export class ChargeFilter {
  @Field(() => DateTimeScalar, { nullable: true, description: "Usage at or after this instant." })
  from?: number | null;

  @Field(() => DateTimeScalar, { nullable: true, description: "Usage before this instant." })
  to?: number | null;

  @Field(() => String, { nullable: true, description: "Only this API." })
  apiCode?: string | null;

  @Field(() => String, { nullable: true, description: "Only this APS app." })
  clientId?: string | null;
}

@ObjectType({ description: "The outcome of recordUsage." })
export class RecordUsagePayload {
  @Field(() => UsageCharge, { description: "The charge (the original one on a replay)." })
  charge!: UsageCharge;

  @Field(() => Boolean, { description: "True when this event id was already recorded with the same payload: nothing new was charged." })
  replayed!: boolean;
}

@ObjectType({ description: "Why one event of a batch was refused." })
export class UsageError {
  @Field(() => String, { description: "An error code of the closed set, one of the ErrorCode enum's values, such as INSUFFICIENT_BALANCE." })
  code!: string;

  @Field(() => String, { description: "What was wrong, for people." })
  message!: string;

  @Field(() => String, { nullable: true, description: 'The offending field, such as "inputs.3.quantity".' })
  field!: string | null;
}

@ObjectType({ description: "The outcome of one event of recordUsageBatch: a charge or an error, never both." })
export class RecordUsageResult {
  @Field(() => String, { description: "The event id this result is for." })
  eventId!: string;

  @Field(() => UsageCharge, { nullable: true, description: "The charge, when the event was recorded or replayed." })
  charge!: UsageCharge | null;

  @Field(() => Boolean, { nullable: true, description: "True on a replay; null when the event was refused." })
  replayed!: boolean | null;

  @Field(() => UsageError, { nullable: true, description: "Why the event was refused; nothing of it was written." })
  error!: UsageError | null;
}

@ObjectType({ description: "What recordUsage would do now, written nowhere." })
export class UsageQuote {
  @Field(() => UsageCharge, {
    nullable: true,
    description:
      "The charge already recorded under this eventId with the same payload: recordUsage would replay it and charge nothing new (tokens, allocations and balanceAfter then show what a new event like it would cost). Null for an event not recorded yet. An eventId recorded with a different payload is refused with IDEMPOTENCY_CONFLICT, as recordUsage would refuse it.",
  })
  alreadyRecorded!: UsageCharge | null;

  @Field(() => TokensScalar, { name: "tokens", description: "Tokens the event would be charged." })
  tokensMicros!: bigint;

  @Field(() => PriceEntry, { description: "The price version that would rate it." })
  priceEntry!: PriceEntry;

  @Field(() => [Allocation], { description: "What would pay it, in drain order: lots, Token Flex pools, packs, PAYG or deficit; for a FREE event its free allowance and overrun." })
  allocations!: Allocation[];

  @Field(() => Int, { nullable: true, description: "Whole charged units the event would be charged under the plan in force at occurredAt (partial units roll over); null under LEGACY, which rates exactly." })
  units!: number | null;

  @Field(() => UnitRemainder, { nullable: true, description: "The partial unit the API would carry after the event, under a FREE or PAID plan; null under LEGACY." })
  remainderAfter!: UnitRemainder | null;

  // A balance is the account's business: a metering pipeline learns whether it may go on from
  // usageAuthorization, not from the amounts.
  @Roles("OPERATOR", "PARTNER")
  @Field(() => Balance, { description: "The account's balance after the charge." })
  balanceAfter!: Balance;
}

@ObjectType({ description: "Whether a premium API call may start now for an account." })
export class UsageAuthorization {
  @Field(() => Boolean, { description: "True when the call may start." })
  allowed!: boolean;

  @Field(() => AccountStatus, { description: "The account's status now." })
  status!: string;

  @Field(() => String, { nullable: true, description: "Why not, when not allowed." })
  reason!: string | null;

  @Field(() => ErrorCode, {
    nullable: true,
    description: "Why not, as the error code recordUsage would give: API_SUSPENDED, ACCOUNT_RESTRICTED, INSUFFICIENT_BALANCE or PRICE_NOT_FOUND. Null when allowed.",
  })
  code!: string | null;
}

@ObjectType({ description: "Usage of one API in one UTC period." })
export class UsageSummaryRow {
  @Field(() => DateTimeScalar, { description: "Start of the UTC day or month." })
  periodStart!: number;

  @Field(() => String, { description: "The metered API." })
  apiCode!: string;

  @Field(() => Int, { description: "Usage events, zero-charge ones included." })
  events!: number;

  @Field(() => QuantityScalar, { name: "quantity", description: "Meter units used." })
  quantityMicros!: bigint;

  @Field(() => TokensScalar, { name: "tokens", description: "Tokens charged." })
  tokensMicros!: bigint;

  @Field(() => Int, { nullable: true, description: "Whole charged units of the row's FREE and PAID charges; null when every charge of the row was rated under LEGACY, which counts no units." })
  units!: number | null;
}

@ObjectType({ description: "Where the balance is heading at the recent burn rate." })
export class BalanceForecast {
  @Field(() => TokensScalar, { name: "burnRatePerDay", description: "Tokens charged per day over the last 30 days." })
  burnRatePerDayMicros!: bigint;

  @Field(() => DateTimeScalar, { nullable: true, description: "When the available balance runs out at that rate; null when it does not." })
  depletesAt!: number | null;

  @Field(() => TokensScalar, { name: "expiringWithin90Days", description: "Tokens of lots and packs that expire within 90 days." })
  expiringWithin90DaysMicros!: bigint;

  @Field(() => TokensScalar, { name: "expiringUnused", description: "Tokens that will expire unused at that rate, following the drain order." })
  expiringUnusedMicros!: bigint;

  @Field(() => Boolean, { description: "True under PAYG: usage beyond the tokens held is billed in arrears, so the balance never runs out and depletesAt is null." })
  unlimited!: boolean;
}

@ObjectType({ description: "A signal about an account's balance that a portal can show now." })
export class BalanceAlert {
  @Field(() => AlertKind, { description: "What kind of signal." })
  kind!: string;

  @Field(() => String, { description: "A sentence for people." })
  message!: string;

  @Field(() => TokensScalar, { name: "tokens", nullable: true, description: "The tokens concerned, when there are." })
  tokensMicros!: bigint | null;

  @Field(() => DateTimeScalar, { nullable: true, description: "The date concerned (an expiry, a grace end), when there is one." })
  at!: number | null;
}
