import { Field, ID, InputType, Int, ObjectType } from "type-graphql";
import { DateTimeScalar, QuantityScalar, TokensScalar } from "../scalars.js";
import { PlanTier, StatementStatus } from "./enums.js";

/**
 * The tiered regime (domain §8) as the API shows it. Units are whole charged units: the core
 * counts them as bigint, the resolvers hand them over as numbers (Int).
 */

@ObjectType({ description: "An account's plan from one instant on: LEGACY (the prepaid rules of 2022–2025) until its first enrollment, then FREE or PAID." })
export class Plan {
  @Field(() => PlanTier, { description: "LEGACY, FREE or PAID." })
  tier!: string;

  @Field(() => Boolean, { description: "Pay as You Go on top of prepay: what pools and packs cannot pay goes on the monthly PAYG statement. Only ever true on PAID." })
  payg!: boolean;

  @Field(() => DateTimeScalar, { nullable: true, description: "When the plan took effect; null for LEGACY, which has no start. Every event is judged by the plan in force at its occurredAt." })
  effectiveFrom!: number | null;
}

@ObjectType({ description: "A published free cap: the whole charged units of one API a FREE account may use each calendar month (UTC)." })
export class FreeCap {
  @Field(() => ID, { description: "Stable identifier." })
  id!: number;

  @Field(() => String, { description: "The metered API." })
  apiCode!: string;

  @Field(() => Int, { description: "Whole charged units free each month; 0 gives no free usage." })
  unitsPerMonth!: number;

  @Field(() => DateTimeScalar, { description: "When this cap takes effect; it stays in force until a later cap of the API does." })
  effectiveFrom!: number;

  @Field(() => String, { nullable: true, description: "Why it was published, and where the figure comes from." })
  note!: string | null;
}

@ObjectType({ description: "What a FREE account used of one API's free cap in one calendar month (UTC)." })
export class FreeUsageRow {
  @Field(() => String, { description: "The metered API." })
  apiCode!: string;

  @Field(() => Int, { description: "The cap in force (at the month's end for a past month, now for the current one)." })
  capUnits!: number;

  @Field(() => Int, { description: "Units given free; never above capUnits." })
  usedUnits!: number;

  @Field(() => Int, { description: "Units beyond the cap: recorded, never billed." })
  overrunUnits!: number;

  @Field(() => DateTimeScalar, { nullable: true, description: "While the cap is used up, the first instant of the next month: until then usage of this API is refused with API_SUSPENDED. Null when not suspended." })
  suspendedUntil!: number | null;
}

@ObjectType({ description: "Tokens of an enterprise agreement (Token Flex, EBA), imported by an operator: they pay paid-tier usage that occurred in [startsAt, endsAt), before Flex packs." })
export class TokenFlexPool {
  @Field(() => ID, { description: "Stable identifier." })
  id!: number;

  @Field(() => TokensScalar, { name: "tokens", description: "Tokens of the agreement." })
  tokensMicros!: bigint;

  @Field(() => TokensScalar, { name: "remaining", description: "Tokens not yet used or paid towards a deficit (lost once the pool ends)." })
  remainingMicros!: bigint;

  @Field(() => DateTimeScalar, { description: "Start of the term: the pool pays usage from this instant." })
  startsAt!: number;

  @Field(() => DateTimeScalar, { description: "End of the term: the pool pays usage before this instant only." })
  endsAt!: number;

  @Field(() => String, { description: "The reference it was imported under (idempotency key)." })
  externalRef!: string;

  accountId!: number;
}

@ObjectType({ description: "A partial charged unit not charged yet, in meter units: the next events of the API build on it." })
export class UnitRemainder {
  @Field(() => String, { description: "The metered API." })
  apiCode!: string;

  @Field(() => QuantityScalar, { name: "quantity", description: "Meter units carried (less than one charged unit)." })
  quantityMicros!: bigint;

  @Field(() => String, { nullable: true, description: 'The FREE month ("YYYY-MM") it belongs to: a FREE remainder starts at 0 each month. Null for a paid remainder, which rolls over from month to month.' })
  month!: string | null;
}

@ObjectType({ description: "One API's line on a PAYG statement." })
export class PaygLine {
  @Field(() => String, { description: "The metered API." })
  apiCode!: string;

  @Field(() => Int, { description: "Whole charged units billed (reversals subtracted)." })
  units!: number;

  @Field(() => TokensScalar, { name: "tokens", description: "Tokens billed (reversals subtracted)." })
  tokensMicros!: bigint;
}

@ObjectType({ description: "What an account owes under Pay as You Go for one calendar month (UTC), billed in arrears." })
export class PaygStatement {
  @Field(() => String, { description: 'The month, "YYYY-MM".' })
  month!: string;

  @Field(() => StatementStatus, { description: "OPEN until 3 days after the month ends, then FINAL." })
  status!: string;

  @Field(() => TokensScalar, { name: "tokens", description: "Tokens of all its lines." })
  tokensMicros!: bigint;

  @Field(() => [PaygLine], { description: "One line per API, by API code." })
  lines!: PaygLine[];
}

@InputType({ description: "Moves an account to FREE or PAID from an instant on." })
export class EnrollPlanInput {
  @Field(() => ID, { description: "The account." })
  accountId!: string;

  @Field(() => PlanTier, { description: "FREE or PAID; LEGACY is refused (an account never goes back)." })
  tier!: "LEGACY" | "FREE" | "PAID";

  @Field(() => Boolean, { nullable: true, description: "Pay as You Go on top of prepay (PAID only; the account's country must be eligible, else PAYG_NOT_AVAILABLE). Default false." })
  payg?: boolean | null;

  @Field(() => DateTimeScalar, {
    nullable: true,
    description: "When the plan takes effect (default now): on or after 2025-12-08, after the current plan's start and after the account's last recorded usage, at most 5 minutes ahead.",
  })
  effectiveFrom?: number | null;
}

@InputType({ description: "A free cap for one API, effective now or later." })
export class PublishFreeCapInput {
  @Field(() => String, { description: 'The API code, such as "design-automation/revit".' })
  apiCode!: string;

  @Field(() => Int, { description: "Whole charged units free each month (0 or more)." })
  unitsPerMonth!: number;

  @Field(() => DateTimeScalar, { nullable: true, description: "When it takes effect (default now); never in the past." })
  effectiveFrom?: number | null;

  @Field(() => String, { description: "Why, and where the figure comes from (kept with the cap)." })
  note!: string;
}

@InputType({ description: "The tokens of an enterprise agreement (Token Flex), imported once under an external reference." })
export class ImportTokenFlexPoolInput {
  @Field(() => ID, { description: "The account the agreement covers." })
  accountId!: string;

  @Field(() => TokensScalar, { description: "Tokens of the agreement (more than 0)." })
  tokens!: bigint;

  @Field(() => DateTimeScalar, { description: "Start of the term." })
  startsAt!: number;

  @Field(() => DateTimeScalar, { description: "End of the term (after startsAt)." })
  endsAt!: number;

  @Field(() => String, { description: "Unique reference of the agreement; importing it again returns the same pool." })
  externalRef!: string;
}
