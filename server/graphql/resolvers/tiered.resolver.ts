import { Arg, Ctx, FieldResolver, Mutation, Query, Resolver, Root } from "type-graphql";
import type { FreeUsageRow as FreeUsageRowModel } from "../../core/free-allowance.js";
import type { Account as AccountModel, TokenFlexPoolRecord } from "../../core/model.js";
import { ROLES } from "../../core/model.js";
import { monthOf, parseMonth } from "../../core/month.js";
import type { PaygStatement as PaygStatementModel } from "../../core/payg.js";
import { isPoolExpired } from "../../core/token-flex.js";
import { parseId } from "../../core/text.js";
import type { Plan as PlanModel } from "../../core/plan.js";
import type { Instant } from "../../core/time.js";
import type { GraphQLContext, Loaders } from "../context.js";
import { Roles } from "../roles.js";
import { DateTimeScalar } from "../scalars.js";
import { Account } from "../types/account.type.js";
import {
  EnrollPlanInput,
  FreeCap,
  FreeUsageRow,
  ImportTokenFlexPoolInput,
  PaygStatement,
  Plan,
  PublishFreeCapInput,
  TokenFlexPool,
  UnitRemainder,
} from "../types/tiered.type.js";

/** Whole units leave the core as bigint; the API carries them as Int (they stay far below 2^31). */
const unitsOf = (units: bigint): number => Number(units);

function toFreeUsageRow(row: FreeUsageRowModel): FreeUsageRow {
  return { ...row, capUnits: unitsOf(row.capUnits), usedUnits: unitsOf(row.usedUnits), overrunUnits: unitsOf(row.overrunUnits) };
}

function toStatement(statement: PaygStatementModel): PaygStatement {
  return { ...statement, lines: statement.lines.map((line) => ({ ...line, units: unitsOf(line.units) })) };
}

/**
 * The plan in force at `now`, from the account's history (read once per page of accounts): the
 * latest plan started by then; LEGACY, which has no start, before any.
 */
export async function planInForce(loaders: Loaders, accountId: number, now: Instant): Promise<PlanModel> {
  return planOf(await loaders.planHistory.load(accountId), now);
}

/** The plan in force at `now` in an account's plan history. */
export function planOf(history: readonly PlanModel[], now: Instant): PlanModel {
  let current = history[0]!;
  for (const plan of history) if (plan.effectiveFrom === null || plan.effectiveFrom <= now) current = plan;
  return current;
}

/** The account's plan, free usage, pools, remainders and PAYG statements (domain §8). */
@Resolver(() => Account)
export class AccountTieredResolver {
  @FieldResolver(() => Plan, { description: "The plan in force now." })
  plan(@Root() account: AccountModel, @Ctx() { loaders, services }: GraphQLContext) {
    return planInForce(loaders, account.id, services.context.clock());
  }

  @FieldResolver(() => [Plan], { description: "Every plan the account has had, oldest first: LEGACY, then each enrollment." })
  planHistory(@Root() account: AccountModel, @Ctx() { loaders }: GraphQLContext) {
    return loaders.planHistory.load(account.id);
  }

  @FieldResolver(() => [FreeUsageRow], { description: "What the account used of each API's free cap in a calendar month (UTC): one row per API with a cap or usage that month." })
  async freeUsage(
    @Root() account: AccountModel,
    @Arg("month", () => String, { nullable: true, description: 'The month, "YYYY-MM"; default the current one.' }) month: string | null,
    @Ctx() { loaders, services }: GraphQLContext,
  ) {
    const which = month == null ? monthOf(services.context.clock()) : parseMonth(month, "month");
    return (await loaders.freeUsage(which).load(account.id)).map(toFreeUsageRow);
  }

  @FieldResolver(() => [TokenFlexPool], { description: "Token Flex pools (enterprise agreements), soonest end first." })
  async tokenFlexPools(
    @Root() account: AccountModel,
    @Arg("includeExpired", () => Boolean, { nullable: true, description: "Include pools whose term has ended (default false)." }) includeExpired: boolean | null,
    @Ctx() { loaders, services }: GraphQLContext,
  ) {
    const pools = await loaders.tokenFlexPools.load(account.id);
    const now = services.context.clock();
    return includeExpired ? pools : pools.filter((pool) => !isPoolExpired(pool, now));
  }

  @FieldResolver(() => [UnitRemainder], { description: "Partial units the next events will build on, per API: the paid remainder and this month's FREE one, under the meter in force now." })
  unitRemainders(@Root() account: AccountModel, @Ctx() { loaders }: GraphQLContext) {
    return loaders.unitRemainders.load(account.id);
  }

  @FieldResolver(() => PaygStatement, { description: "The PAYG statement of a calendar month (UTC): what PAYG paid that month, line by line. Empty for an account without PAYG usage." })
  async paygStatement(
    @Root() account: AccountModel,
    @Arg("month", () => String, { description: 'The month, "YYYY-MM".' }) month: string,
    @Ctx() { loaders }: GraphQLContext,
  ) {
    return toStatement(await loaders.paygStatement(parseMonth(month, "month")).load(account.id));
  }
}

/** Plans, free caps and Token Flex pools: the operator's side of the tiered regime. */
@Resolver(() => TokenFlexPool)
export class TieredResolver {
  @Roles(...ROLES)
  @Query(() => [FreeCap], { description: "The free cap of each API in force at `asOf` (default now), by API code. An API without one has a cap of 0." })
  freeCaps(@Arg("asOf", () => DateTimeScalar, { nullable: true, description: "The moment; default now." }) asOf: number | null, @Ctx() { services }: GraphQLContext) {
    return services.tiered.freeCaps(asOf);
  }

  @Roles("OPERATOR")
  @Mutation(() => Account, {
    description:
      "Enrolls an account in FREE or PAID (with or without PAYG) from effectiveFrom on. Usage already recorded never changes plan: effectiveFrom must come after the account's last usage.",
  })
  async enrollPlan(@Arg("input", () => EnrollPlanInput, { description: "The enrollment." }) input: EnrollPlanInput, @Ctx() { services, viewer, loaders }: GraphQLContext) {
    const account = await services.tiered.enrollPlan({ ...input, accountId: parseId(input.accountId, "input.accountId") }, viewer!.actor);
    // A plan read earlier in the same document (another aliased mutation) is out of date now.
    loaders.planHistory.clear(account.id);
    return account;
  }

  @Roles("OPERATOR")
  @Mutation(() => FreeCap, { description: "Publishes a free cap for one API, effective now or later (never in the past), like a price version." })
  publishFreeCap(@Arg("input", () => PublishFreeCapInput, { description: "The cap." }) input: PublishFreeCapInput, @Ctx() { services, viewer }: GraphQLContext) {
    return services.tiered.publishFreeCap(input, viewer!.actor);
  }

  @Roles("OPERATOR")
  @Mutation(() => TokenFlexPool, { description: "Imports the tokens of an enterprise agreement. Idempotent on externalRef; pays any deficit first when its term has started." })
  async importTokenFlexPool(
    @Arg("input", () => ImportTokenFlexPoolInput, { description: "The pool." }) input: ImportTokenFlexPoolInput,
    @Ctx() { services, viewer, loaders }: GraphQLContext,
  ) {
    const pool = await services.funding.importTokenFlexPool(
      { accountId: parseId(input.accountId, "input.accountId"), tokensMicros: input.tokens, startsAt: input.startsAt, endsAt: input.endsAt, externalRef: input.externalRef },
      viewer!.actor,
    );
    loaders.tokenFlexPools.clear(pool.accountId);
    return pool;
  }

  @FieldResolver(() => Boolean, { description: "True once endsAt has passed: what is left is lost." })
  expired(@Root() pool: TokenFlexPoolRecord, @Ctx() { services }: GraphQLContext) {
    return isPoolExpired(pool, services.context.clock());
  }
}
