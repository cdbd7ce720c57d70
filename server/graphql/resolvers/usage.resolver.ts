import { Arg, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from "type-graphql";
import type { Account as AccountModel, ChargeAllocation, UsageCharge as UsageChargeModel } from "../../core/model.js";
import { parseId } from "../../core/text.js";
import { assertBatchSize, type BatchItemResult, labelsFromList, type UsageEvent } from "../../services/rating.service.js";
import type { GraphQLContext } from "../context.js";
import { DateTimeScalar } from "../scalars.js";
import { yieldTurns } from "../../turns.js";
import { parsedOrThrow } from "../unparsed.js";
import { Account, CreditLot, FlexPack } from "../types/account.type.js";
import { CHARGE_ORDERS, chargeSortKey } from "../../store/port.js";
import { decodeOrderedCursor, encodeOrderedCursor, toConnection } from "../types/common.js";
import { ChargeOrder, UsageGrouping } from "../types/enums.js";
import { PriceEntry } from "../types/price.type.js";
import { TokenFlexPool } from "../types/tiered.type.js";
import {
  Allocation,
  BalanceAlert,
  BalanceForecast,
  ChargeFilter,
  RecordUsagePayload,
  RecordUsageResult,
  UsageAuthorization,
  UsageCharge,
  UsageChargeConnection,
  UsageInput,
  UsageLabel,
  UsageQuote,
  UsageSummaryRow,
} from "../types/usage.type.js";
import { Roles } from "../roles.js";

/**
 * An input as the rating service takes it. A batch item's amount and date may still be unparsed
 * (see unparsed.ts): refused here, they fail that item alone.
 */
function toUsageEvent(input: UsageInput, field: string): UsageEvent {
  const labels = labelsFromList(input.labels ?? [], `${field}.labels`);
  return {
    eventId: input.eventId,
    accountId: parseId(input.accountId, `${field}.accountId`),
    apiCode: input.apiCode,
    quantityMicros: parsedOrThrow(input.quantity, `${field}.quantity`),
    outcome: input.outcome,
    occurredAt: parsedOrThrow(input.occurredAt, `${field}.occurredAt`),
    clientId: input.clientId,
    labels,
  };
}

function toResult(result: BatchItemResult): RecordUsageResult {
  if (!result.error) return { eventId: result.eventId, charge: result.charge, replayed: result.replayed, error: null };
  const { code, message, field } = result.error;
  return { eventId: result.eventId, charge: null, replayed: null, error: { code, message, field: field ?? null } };
}

/** An allocation as the API shows it, whether booked (a charge's receipt) or only quoted. */
type AllocationView = Pick<ChargeAllocation, "source" | "amountMicros" | "creditLotId" | "flexPackId" | "tokenFlexPoolId" | "units" | "accountId">;

@Resolver(() => UsageCharge)
export class UsageResolver {
  @Roles("OPERATOR", "METERING")
  @Mutation(() => RecordUsagePayload, { description: "Rates one usage event and pays it credit-first. Idempotent on eventId." })
  recordUsage(@Arg("input", () => UsageInput, { description: "The event." }) input: UsageInput, @Ctx() { services }: GraphQLContext) {
    return services.usageBatcher.record(toUsageEvent(input, "input"));
  }

  @Roles("OPERATOR", "METERING")
  @Mutation(() => [RecordUsageResult], { description: "Rates up to 1,000 events in one transaction; each succeeds or fails alone, in order." })
  async recordUsageBatch(@Arg("inputs", () => [UsageInput], { description: "The events." }) inputs: UsageInput[], @Ctx() { services }: GraphQLContext) {
    assertBatchSize(inputs.length, "inputs");
    return (await services.usageBatcher.recordBatch(inputs, "inputs", toUsageEvent, (input) => input.eventId)).map(toResult);
  }

  @Roles("OPERATOR", "METERING", "PARTNER")
  @Query(() => UsageQuote, { description: "What recordUsage would charge and drain now, and the balance after; writes nothing." })
  async quoteUsage(@Arg("input", () => UsageInput, { description: "The hypothetical event." }) input: UsageInput, @Ctx() { services, access, loaders }: GraphQLContext) {
    const event = toUsageEvent(input, "input");
    access.visibleOrThrow(await loaders.account.load(event.accountId), "input.accountId");
    const quote = await services.rating.quoteUsage(event, "input", (account) => access.canSee(account));
    return {
      ...quote,
      priceEntry: await loaders.priceEntry.load(quote.price.id),
      units: quote.units === null ? null : Number(quote.units),
      allocations: quote.allocations.map((allocation): AllocationView => ({
        source: allocation.source,
        amountMicros: allocation.amountMicros,
        creditLotId: allocation.source === "CREDIT_LOT" ? allocation.sourceId : null,
        flexPackId: allocation.source === "FLEX_PACK" ? allocation.sourceId : null,
        tokenFlexPoolId: allocation.source === "TOKEN_FLEX" ? allocation.sourceId : null,
        units: allocation.units ?? null,
        accountId: event.accountId,
      })),
    };
  }

  @Roles("OPERATOR", "METERING", "PARTNER")
  @Query(() => UsageAuthorization, { description: "Whether a premium call may start now for the account, and why not." })
  async usageAuthorization(
    @Arg("accountId", () => ID, { description: "The account." }) accountId: string,
    @Arg("apiCode", () => String, { description: "The API about to be called." }) apiCode: string,
    @Ctx() { services, access, loaders }: GraphQLContext,
  ) {
    const account = access.visibleOrThrow(await loaders.account.load(parseId(accountId, "accountId")), "accountId");
    return services.insight.usageAuthorization(account.id, apiCode);
  }

  @Roles("OPERATOR")
  @Mutation(() => UsageCharge, { description: "Reverses a charge once: its tokens go back to the exact lots, packs and deficit that paid it." })
  reverseCharge(
    @Arg("chargeId", () => ID, { description: "The charge." }) chargeId: string,
    @Arg("reason", () => String, { description: "Why (kept in the audit log)." }) reason: string,
    @Ctx() { services, viewer }: GraphQLContext,
  ) {
    return services.rating.reverseCharge(parseId(chargeId, "chargeId"), reason, viewer!.actor);
  }

  // Only the roles that may read accounts follow this hop, and the hops to lots and packs below: a
  // metering key gets charges and quotes back, and must not reach the account's name, balance,
  // order references and prices through them.
  @Roles("OPERATOR", "PARTNER")
  @FieldResolver(() => Account, { description: "The account charged." })
  async account(@Root() charge: UsageChargeModel, @Ctx() { loaders }: GraphQLContext) {
    return loaders.account.load(charge.accountId);
  }

  @FieldResolver(() => PriceEntry, { description: "The price version the event was rated with." })
  priceEntry(@Root() charge: UsageChargeModel, @Ctx() { loaders }: GraphQLContext) {
    return loaders.priceEntry.load(charge.priceEntryId);
  }

  @FieldResolver(() => [Allocation], { description: "What paid the charge, in drain order: the receipt." })
  allocations(@Root() charge: UsageChargeModel, @Ctx() { loaders }: GraphQLContext) {
    return loaders.allocations.load(charge.id);
  }

  @FieldResolver(() => Int, { nullable: true, description: "Whole charged units of a FREE or PAID event (partial units roll over); null for a LEGACY event, rated exactly." })
  units(@Root() charge: UsageChargeModel) {
    return charge.units === null ? null : Number(charge.units);
  }

  @FieldResolver(() => Boolean, { description: "True once the charge has been reversed." })
  reversed(@Root() charge: UsageChargeModel) {
    return charge.reversedAt !== null;
  }

  @FieldResolver(() => [UsageLabel], { description: "The event's free-form labels." })
  labels(@Root() charge: UsageChargeModel) {
    return Object.entries(charge.labels).map(([key, value]) => ({ key, value }));
  }
}

@Resolver(() => Allocation)
export class AllocationResolver {
  @Roles("OPERATOR", "PARTNER")
  @FieldResolver(() => CreditLot, { nullable: true, description: "The lot that paid, for CREDIT_LOT." })
  async creditLot(@Root() allocation: AllocationView, @Ctx() { loaders }: GraphQLContext) {
    if (allocation.creditLotId === null) return null;
    return (await loaders.creditLots.load(allocation.accountId)).find((lot) => lot.id === allocation.creditLotId) ?? null;
  }

  @Roles("OPERATOR", "PARTNER")
  @FieldResolver(() => FlexPack, { nullable: true, description: "The pack that paid, for FLEX_PACK." })
  async flexPack(@Root() allocation: AllocationView, @Ctx() { loaders }: GraphQLContext) {
    if (allocation.flexPackId === null) return null;
    return (await loaders.flexPacks.load(allocation.accountId)).find((pack) => pack.id === allocation.flexPackId) ?? null;
  }

  @Roles("OPERATOR", "PARTNER")
  @FieldResolver(() => TokenFlexPool, { nullable: true, description: "The Token Flex pool that paid, for TOKEN_FLEX." })
  async tokenFlexPool(@Root() allocation: AllocationView, @Ctx() { loaders }: GraphQLContext) {
    if (allocation.tokenFlexPoolId === null) return null;
    return (await loaders.tokenFlexPools.load(allocation.accountId)).find((pool) => pool.id === allocation.tokenFlexPoolId) ?? null;
  }

  @FieldResolver(() => Int, { nullable: true, description: "Whole charged units of a FREE_ALLOWANCE, OVERRUN or PAYG part; null for the others (a unit's tokens may split across a pool and a pack)." })
  units(@Root() allocation: AllocationView) {
    return allocation.units === null ? null : Number(allocation.units);
  }
}

/** The account's usage and insight fields. */
@Resolver(() => Account)
export class AccountUsageResolver {
  @FieldResolver(() => UsageChargeConnection, { description: "The account's charges, the most recent usage first unless `orderBy` says otherwise." })
  async charges(
    @Root() account: AccountModel,
    @Arg("first", () => Int, { nullable: true, description: "Page size, 1–100 (default 20)." }) first: number | null,
    @Arg("after", () => String, { nullable: true, description: "The endCursor of the previous page, read with the same orderBy." }) after: string | null,
    @Arg("filter", () => ChargeFilter, { nullable: true, description: "Narrows the charges." }) filter: ChargeFilter | null,
    @Arg("orderBy", () => ChargeOrder, { nullable: true, defaultValue: ChargeOrder.OCCURRED_AT_DESC, description: "The order of the charges (default OCCURRED_AT_DESC, the most recent usage first)." })
    orderBy: keyof typeof ChargeOrder | null,
    @Ctx() { services }: GraphQLContext,
  ) {
    const order = orderBy ?? ChargeOrder.OCCURRED_AT_DESC;
    const page = await services.ledger.charges(
      account.id,
      { from: filter?.from ?? undefined, to: filter?.to ?? undefined, apiCode: filter?.apiCode ?? undefined, clientId: filter?.clientId ?? undefined },
      first,
      decodeOrderedCursor(after, order, CHARGE_ORDERS),
      order,
    );
    return toConnection(page, (charge) => encodeOrderedCursor(order, chargeSortKey(order, charge)));
  }

  @FieldResolver(() => [UsageSummaryRow], { description: "Usage per UTC day or month and API in [from, to), reversed charges left out." })
  async usageSummary(
    @Root() account: AccountModel,
    @Arg("from", () => DateTimeScalar, { description: "Start (inclusive)." }) from: number,
    @Arg("to", () => DateTimeScalar, { description: "End (exclusive)." }) to: number,
    @Arg("groupBy", () => UsageGrouping, { description: "DAY or MONTH." }) groupBy: "DAY" | "MONTH",
    @Arg("clientId", () => String, { nullable: true, description: "Only this APS app." }) clientId: string | null,
    @Ctx() { services }: GraphQLContext,
  ) {
    await yieldTurns();
    const rows = await services.insight.usageSummary(account.id, from, to, groupBy, clientId);
    return rows.map((row) => ({ ...row, units: row.units === null ? null : Number(row.units) }));
  }

  @FieldResolver(() => BalanceForecast, { description: "Burn rate, depletion date and the tokens that will expire unused." })
  async forecast(@Root() account: AccountModel, @Ctx() { services }: GraphQLContext) {
    await yieldTurns();
    return services.insight.forecast(account.id);
  }

  @FieldResolver(() => [BalanceAlert], { description: "Signals to show now: low balance, expiring tokens, deficit, restriction." })
  async alerts(@Root() account: AccountModel, @Ctx() { services }: GraphQLContext) {
    await yieldTurns();
    return services.insight.alerts(account.id);
  }
}
