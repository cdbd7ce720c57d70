import { Field, ID, InputType, Int, ObjectType } from "type-graphql";
import { DateTimeScalar, TokensScalar } from "../scalars.js";
import { Meter, PriceStatus, UsageOutcome } from "./enums.js";

@ObjectType({ description: "One version of the price of a metered API. Versions are never edited: a change publishes a new one." })
export class PriceEntry {
  @Field(() => ID, { description: "Stable identifier; every charge keeps the id of the version it was rated with." })
  id!: number;

  @Field(() => String, { description: 'Stable slug of the metered API, such as "design-automation/revit".' })
  apiCode!: string;

  @Field(() => String, { description: "Display name." })
  name!: string;

  @Field(() => Meter, { description: "What the usage quantity counts." })
  meter!: string;

  @Field(() => Int, { description: "How many meter units the rate is for (3600 seconds, 50 photos, 1 job)." })
  unitQuantity!: number;

  @Field(() => TokensScalar, { name: "tokensPerUnit", description: "Tokens charged per unitQuantity meter units; 0 is a free API." })
  tokensPerUnitMicros!: bigint;

  @Field(() => [UsageOutcome], { description: "The job outcomes that are billed; others record a zero charge." })
  chargeableOutcomes!: string[];

  @Field(() => DateTimeScalar, { description: "When this version takes effect." })
  effectiveFrom!: number;

  @Field(() => DateTimeScalar, { nullable: true, description: "When the next version takes over; null while open-ended." })
  effectiveTo!: number | null;

  @Field(() => PriceStatus, { description: "Scheduled, active, superseded or cancelled, as of now." })
  status!: string;

  @Field(() => Boolean, { description: "True for a retirement: from effectiveFrom the API has no price and usage for it is refused." })
  retired!: boolean;

  @Field(() => String, { description: "Why the version was published." })
  note!: string;

  @Field(() => String, { description: "Who published it." })
  publishedBy!: string;

  @Field(() => DateTimeScalar, { description: "When it was published." })
  publishedAt!: number;

  @Field(() => DateTimeScalar, { nullable: true, description: "When it was cancelled, if it was." })
  cancelledAt!: number | null;
}

@InputType({ description: "A new price version for one API." })
export class PublishPriceInput {
  @Field(() => String, { description: 'The API code, such as "design-automation/revit"; a new code adds an API.' })
  apiCode!: string;

  @Field(() => String, { nullable: true, description: "Display name; defaults to the current version's." })
  name?: string | null;

  @Field(() => Meter, { description: "What the quantity counts." })
  meter!: "SECOND" | "JOB" | "PHOTO" | "CALL" | "GIGAPIXEL" | "MEGABYTE";

  @Field(() => Int, { description: "Meter units the rate is for: a whole number from 1." })
  unitQuantity!: number;

  @Field(() => TokensScalar, { description: "Tokens per unitQuantity units." })
  tokensPerUnit!: bigint;

  @Field(() => [UsageOutcome], { nullable: true, description: "Billed outcomes; defaults to [SUCCEEDED]." })
  chargeableOutcomes?: ("SUCCEEDED" | "FAILED" | "CANCELLED")[] | null;

  @Field(() => DateTimeScalar, { nullable: true, description: "When it takes effect: now (the default) or later, never in the past." })
  effectiveFrom?: number | null;

  @Field(() => String, { description: "Why the price changes (required, shown in the history)." })
  note!: string;
}

@ObjectType({ description: "One account's share of a price-change preview, and when its balance would run out." })
export class PriceImpactAccount {
  accountId!: number;

  @Field(() => Int, { description: "This account's usage events re-rated." })
  events!: number;

  @Field(() => Int, { description: "Of those, how many would cost nothing at the proposed price." })
  zeroChargeEvents!: number;

  @Field(() => TokensScalar, { name: "currentTokens", description: "What this account's events were charged." })
  currentTokensMicros!: bigint;

  @Field(() => TokensScalar, { name: "proposedTokens", description: "What they would cost at the proposed price." })
  proposedTokensMicros!: bigint;

  @Field(() => TokensScalar, { name: "deltaTokens", description: "proposedTokens − currentTokens." })
  deltaTokensMicros!: bigint;

  @Field(() => String, {
    nullable: true,
    description: 'deltaTokens as a percentage of currentTokens, one decimal ("50.0", "-12.5"); null when nothing was charged.',
  })
  changePercent!: string | null;

  @Field(() => DateTimeScalar, {
    nullable: true,
    description: "When the available balance reaches zero at the burn rate of the last 30 days (as Account.forecast); null when it does not.",
  })
  depletesAt!: number | null;

  @Field(() => DateTimeScalar, {
    nullable: true,
    description:
      "The same with this API's change in burn (deltaTokens spread over the days looked back) from the effective date on. " +
      "Earlier than depletesAt: the account goes into deficit (or is refused, under HARD_STOP) sooner.",
  })
  proposedDepletesAt!: number | null;
}

@ObjectType({ description: "Recent usage of one API re-rated at a proposed price, before publishing it." })
export class PriceImpact {
  @Field(() => Int, { description: "How many days back the usage was taken." })
  days!: number;

  @Field(() => Int, { description: "Usage events re-rated." })
  events!: number;

  @Field(() => TokensScalar, { name: "currentTokens", description: "What those events were charged." })
  currentTokensMicros!: bigint;

  @Field(() => TokensScalar, { name: "proposedTokens", description: "What they would cost at the proposed price." })
  proposedTokensMicros!: bigint;

  @Field(() => TokensScalar, { name: "deltaTokens", description: "proposedTokens − currentTokens (negative for a price cut)." })
  deltaTokensMicros!: bigint;

  @Field(() => Int, { description: "Of those events, how many would cost nothing at the proposed price (outcome not charged, or a zero rate)." })
  zeroChargeEvents!: number;

  @Field(() => Int, { description: "How many accounts have re-rated usage; `accounts` lists at most 50 of them." })
  accountCount!: number;

  @Field(() => [PriceImpactAccount], {
    description: "Who pays: the accounts with re-rated usage, largest increase first and largest cut last, at most 50.",
  })
  accounts!: PriceImpactAccount[];
}
