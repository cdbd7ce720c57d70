import { Field, ID, InputType, ObjectType } from "type-graphql";
import { DateTimeScalar, TokensScalar } from "../scalars.js";
import { connectionOf } from "./common.js";
import { BalancePolicy, SalesChannel } from "./enums.js";

@ObjectType({ description: "A holder of prepaid balances: an Autodesk team using APS premium APIs." })
export class Account {
  @Field(() => ID, { description: "Stable identifier." })
  id!: number;

  @Field(() => String, { description: "Display name of the team or company." })
  name!: string;

  @Field(() => String, { nullable: true, description: "ISO 3166-1 alpha-2 country code." })
  country!: string | null;

  @Field(() => BalancePolicy, { description: "What happens when the balance cannot cover usage." })
  balancePolicy!: string;

  @Field(() => Boolean, { description: "True for the demo data loaded into an empty database." })
  demo!: boolean;

  @Field(() => DateTimeScalar, { description: "When the account record was created in Flexgate (its history may be older)." })
  createdAt!: number;

  resellerId!: number | null;
}

@ObjectType({ description: "An account's tokens at one moment." })
export class Balance {
  @Field(() => TokensScalar, { name: "cloudCredits", description: "Remaining tokens of the cloud-credit lots valid at that moment." })
  cloudCreditsMicros!: bigint;

  @Field(() => TokensScalar, { name: "flexTokens", description: "Remaining tokens of the Flex packs valid at that moment." })
  flexTokensMicros!: bigint;

  @Field(() => TokensScalar, { name: "deficit", description: "Tokens owed: usage that no lot or pack could pay." })
  deficitMicros!: bigint;

  @Field(() => TokensScalar, { name: "available", description: "cloudCredits + flexTokens − deficit; negative while more is owed than held." })
  availableMicros!: bigint;

  @Field(() => DateTimeScalar, { nullable: true, description: "When the grace period of the current deficit ends; null while nothing is owed." })
  graceEndsAt!: number | null;
}

@ObjectType({ description: "Cloud credits bought before Flex (or included in the retired Forge subscription). Valid one year from purchase; always drained before Flex tokens." })
export class CreditLot {
  @Field(() => ID, { description: "Stable identifier." })
  id!: number;

  @Field(() => TokensScalar, { name: "amount", description: "Tokens bought." })
  amountMicros!: bigint;

  @Field(() => TokensScalar, { name: "remaining", description: "Tokens not yet used (lost once the lot expires)." })
  remainingMicros!: bigint;

  @Field(() => DateTimeScalar, { description: "When the credits were bought." })
  purchasedAt!: number;

  @Field(() => DateTimeScalar, { description: "One calendar year after purchase: the lot pays for usage before this instant only." })
  expiresAt!: number;

  @Field(() => String, { description: "The reference it was imported under (idempotency key)." })
  externalRef!: string;
}

@ObjectType({ description: "One Flex purchase: at least 100 whole tokens, valid one year from purchase." })
export class FlexPack {
  @Field(() => ID, { description: "Stable identifier." })
  id!: number;

  @Field(() => TokensScalar, { name: "tokens", description: "Tokens bought." })
  tokensMicros!: bigint;

  @Field(() => TokensScalar, { name: "remaining", description: "Tokens not yet used or paid towards a deficit (lost once the pack expires)." })
  remainingMicros!: bigint;

  @Field(() => DateTimeScalar, { description: "When the pack was bought." })
  purchasedAt!: number;

  @Field(() => DateTimeScalar, { description: "One calendar year after purchase: the pack pays for usage before this instant only." })
  expiresAt!: number;

  @Field(() => SalesChannel, { description: "Where it was bought." })
  channel!: string;

  @Field(() => String, { description: "The order reference it was recorded under (idempotency key)." })
  orderRef!: string;

  @Field(() => String, { nullable: true, description: "Price paid per token, as a decimal string, when known." })
  unitPrice!: string | null;

  @Field(() => String, { nullable: true, description: "ISO 4217 currency of unitPrice." })
  currency!: string | null;

  resellerId!: number | null;
}

export const AccountConnection = connectionOf(Account, "Account", "account");

@InputType({ description: "Narrows a list of accounts." })
export class AccountFilter {
  @Field(() => ID, { nullable: true, description: "Only the accounts of this reseller." })
  resellerId?: string | null;

  @Field(() => String, { nullable: true, description: "Only accounts whose name contains this text (case-insensitive for ASCII)." })
  nameContains?: string | null;
}

@InputType({ description: "A new account." })
export class CreateAccountInput {
  @Field(() => String, { description: "Display name (1–200 characters)." })
  name!: string;

  @Field(() => String, { nullable: true, description: "ISO 3166-1 alpha-2 country code." })
  country?: string | null;

  @Field(() => ID, { nullable: true, description: "The reseller the account buys through, if any." })
  resellerId?: string | null;

  @Field(() => BalancePolicy, { nullable: true, description: "Defaults to NEGATIVE_WITH_GRACE." })
  balancePolicy?: "NEGATIVE_WITH_GRACE" | "HARD_STOP" | null;
}

@InputType({ description: "Changes to an account; omitted fields stay as they are, null clears country or reseller." })
export class UpdateAccountInput {
  @Field(() => String, { nullable: true, description: "New display name." })
  name?: string | null;

  @Field(() => String, { nullable: true, description: "New country code; null clears it." })
  country?: string | null;

  @Field(() => ID, { nullable: true, description: "New reseller; null detaches the account from its reseller." })
  resellerId?: string | null;

  @Field(() => BalancePolicy, { nullable: true, description: "New balance policy." })
  balancePolicy?: "NEGATIVE_WITH_GRACE" | "HARD_STOP" | null;
}

@InputType({ description: "Cloud credits bought before Flex, imported once under an external reference." })
export class ImportCreditLotInput {
  @Field(() => ID, { description: "The account that owns the credits." })
  accountId!: string;

  @Field(() => TokensScalar, { description: "Tokens bought (more than 0)." })
  amount!: bigint;

  @Field(() => DateTimeScalar, { description: "When they were bought: before the end of cloud-credit sales (2022-11-07)." })
  purchasedAt!: number;

  @Field(() => String, { description: "Unique reference of the purchase; importing it again returns the same lot." })
  externalRef!: string;
}

@InputType({ description: "A Flex purchase, recorded once under its order reference." })
export class RecordFlexPurchaseInput {
  @Field(() => ID, { description: "The account that bought the tokens." })
  accountId!: string;

  @Field(() => TokensScalar, { description: "Whole tokens, at least 100." })
  tokens!: bigint;

  @Field(() => DateTimeScalar, { description: "When the tokens were bought." })
  purchasedAt!: number;

  @Field(() => SalesChannel, { description: "Reseller or Autodesk eStore." })
  channel!: "RESELLER" | "ESTORE";

  @Field(() => ID, { nullable: true, description: "The selling reseller (required for RESELLER, absent for ESTORE). A partner key defaults to its own reseller." })
  resellerId?: string | null;

  @Field(() => String, { description: "Unique order reference; recording it again returns the same pack." })
  orderRef!: string;

  @Field(() => String, { nullable: true, description: "Price paid per token as a decimal string (with currency)." })
  unitPrice?: string | null;

  @Field(() => String, { nullable: true, description: "ISO 4217 currency of unitPrice." })
  currency?: string | null;
}
