import type { GraphQLResolveInfo } from "graphql";
import { Arg, Ctx, FieldResolver, ID, Info, Int, Mutation, Query, Resolver, Root } from "type-graphql";
import type { Balance } from "../../core/balance.js";
import { FlexgateError } from "../../core/errors.js";
import type { Account as AccountModel, FlexPack as FlexPackModel, LotHolding, PackHolding, TokenFlexPoolRecord } from "../../core/model.js";
import { statusUnderPlan } from "../../core/plan.js";
import { parseId } from "../../core/text.js";
import { balanceOfHoldings } from "../../services/accounts.service.js";
import type { GraphQLContext } from "../context.js";
import { DateTimeScalar } from "../scalars.js";
import { yieldTurns } from "../../turns.js";
import {
  Account,
  AccountConnection,
  AccountFilter,
  Balance as BalanceType,
  CreateAccountInput,
  CreditLot,
  FlexPack,
  ImportCreditLotInput,
  RecordFlexPurchaseInput,
  UpdateAccountInput,
} from "../types/account.type.js";
import { decodeCursor, toConnection } from "../types/common.js";
import { AccountStatus } from "../types/enums.js";
import { Reseller } from "../types/reseller.type.js";
import { Roles } from "../roles.js";
import { planOf } from "./tiered.resolver.js";
import { pageReads, readingAhead } from "../prefetch.js";
import type { Plan } from "../../core/plan.js";

const optionalId = (value: string | null | undefined, field: string) => (value == null ? value : parseId(value, field));

/** `f` of a value, at once when the value is there, else when it arrives. */
function then<T, R>(value: T | Promise<T>, f: (value: T) => R): R | Promise<R> {
  return value instanceof Promise ? value.then(f) : f(value);
}

/** Lots and packs of an account, the expired ones only when asked for. */
function visible<T extends { expiresAt: number }>(items: readonly T[], includeExpired: boolean | null | undefined, now: number): T[] {
  return includeExpired ? [...items] : items.filter((item) => item.expiresAt > now);
}

@Resolver(() => Account)
export class AccountResolver {
  @Roles("OPERATOR", "PARTNER")
  @Query(() => Account, { nullable: true, description: "One account. A partner gets NOT_FOUND for accounts that are not its own." })
  async account(@Arg("id", () => ID, { description: "The account id." }) id: string, @Ctx() { loaders, access }: GraphQLContext) {
    return access.visibleOrThrow(await loaders.account.load(parseId(id, "id")), "id");
  }

  @Roles("OPERATOR", "PARTNER")
  @Query(() => AccountConnection, { description: "Accounts by id, a page at a time. A partner sees only its own customers." })
  async accounts(
    @Arg("first", () => Int, { nullable: true, description: "Page size, 1–100 (default 20)." }) first: number | null,
    @Arg("after", () => String, { nullable: true, description: "The endCursor of the previous page." }) after: string | null,
    @Arg("filter", () => AccountFilter, { nullable: true, description: "Narrows the list." }) filter: AccountFilter | null,
    @Ctx() { services, access, loaders }: GraphQLContext,
    @Info() info: GraphQLResolveInfo,
  ) {
    const requested = optionalId(filter?.resellerId, "filter.resellerId");
    const scope = access.resellerScope;
    // A partner asking for another reseller's accounts gets none: its scope always wins.
    const resellerId = scope === undefined ? requested : requested != null && requested !== scope ? -1 : scope;
    const page = await services.accounts.list({ resellerId, nameContains: filter?.nameContains }, first, decodeCursor(after));
    for (const account of page.items) loaders.account.prime(account.id, account);
    return readingAhead(toConnection(page), pageReads(info), loaders);
  }

  @Roles("OPERATOR")
  @Mutation(() => Account, { description: "Creates an account." })
  createAccount(@Arg("input", () => CreateAccountInput, { description: "The new account." }) input: CreateAccountInput, @Ctx() { services, viewer }: GraphQLContext) {
    return services.accounts.create({ ...input, resellerId: optionalId(input.resellerId, "input.resellerId") }, viewer!.actor);
  }

  @Roles("OPERATOR")
  @Mutation(() => Account, { description: "Changes an account's name, country, reseller or balance policy." })
  updateAccount(
    @Arg("id", () => ID, { description: "The account id." }) id: string,
    @Arg("input", () => UpdateAccountInput, { description: "The changes." }) input: UpdateAccountInput,
    @Ctx() { services, viewer }: GraphQLContext,
  ) {
    return services.accounts.update(parseId(id, "id"), { ...input, resellerId: optionalId(input.resellerId, "input.resellerId") }, viewer!.actor);
  }

  @Roles("OPERATOR")
  @Mutation(() => CreditLot, { description: "Imports cloud credits bought before Flex. Idempotent on externalRef; pays any deficit first." })
  importCreditLot(@Arg("input", () => ImportCreditLotInput, { description: "The lot." }) input: ImportCreditLotInput, @Ctx() { services, viewer }: GraphQLContext) {
    return services.funding.importCreditLot(
      { accountId: parseId(input.accountId, "input.accountId"), amountMicros: input.amount, purchasedAt: input.purchasedAt, externalRef: input.externalRef },
      viewer!.actor,
    );
  }

  @Roles("OPERATOR", "PARTNER")
  @Mutation(() => FlexPack, { description: "Records a Flex purchase. Idempotent on orderRef; pays any deficit first. A partner records purchases of its own customers, sold by itself." })
  async recordFlexPurchase(
    @Arg("input", () => RecordFlexPurchaseInput, { description: "The purchase." }) input: RecordFlexPurchaseInput,
    @Ctx() { services, viewer, access, loaders }: GraphQLContext,
  ) {
    const accountId = parseId(input.accountId, "input.accountId");
    access.visibleOrThrow(await loaders.account.load(accountId), "input.accountId");
    let resellerId = optionalId(input.resellerId, "input.resellerId") ?? null;
    const scope = access.resellerScope;
    if (scope !== undefined) {
      if (input.channel !== "RESELLER") throw new FlexgateError("FORBIDDEN", "a partner records only its own sales", "input.channel");
      if (resellerId !== null && resellerId !== scope) throw new FlexgateError("FORBIDDEN", "a partner records only its own sales", "input.resellerId");
      resellerId = scope;
    }
    return services.funding.recordFlexPurchase(
      { ...input, accountId, tokensMicros: input.tokens, resellerId },
      viewer!.actor,
    );
  }

  @FieldResolver(() => Reseller, { nullable: true, description: "The reseller the account buys through." })
  reseller(@Root() account: AccountModel, @Ctx() { loaders }: GraphQLContext) {
    return account.resellerId === null ? null : loaders.reseller.loaded(account.resellerId);
  }

  @FieldResolver(() => AccountStatus, {
    description: "ACTIVE, GRACE or RESTRICTED, as of now, under the plan in force: the tiered plans have no grace (a prepay-only deficit restricts at once; with PAYG nothing is refused).",
  })
  status(@Root() account: AccountModel, @Ctx() { services, loaders }: GraphQLContext) {
    const now = services.context.clock();
    return then(loaders.planHistory.loaded(account.id), (history) => statusUnderPlan(planOf(history, now), account, now));
  }

  @FieldResolver(() => BalanceType, { description: "Balance now, or as it stood at `asOf` (usage reported late counts at its usage time). Token Flex pools count among the flex tokens; under a FREE or PAID plan graceEndsAt is null (the tiered plans have no grace)." })
  balance(
    @Root() account: AccountModel,
    @Arg("asOf", () => DateTimeScalar, { nullable: true, description: "The moment; default now." }) asOf: number | null,
    @Ctx() { services, loaders }: GraphQLContext,
  ): Balance | Promise<Balance> {
    if (asOf != null) return yieldTurns().then(() => services.insight.balanceAsOf(account.id, asOf));
    // The service's own composition over what the page's loaders read once for every account
    // (lots, pools, packs and the plan the status reads too), so a page costs no more statements;
    // without a promise when the page has read them ahead.
    const now = services.context.clock();
    const lots = loaders.creditLots.loaded(account.id);
    const pools = loaders.tokenFlexPools.loaded(account.id);
    const packs = loaders.flexPacks.loaded(account.id);
    const history = loaders.planHistory.loaded(account.id);
    const compose = (lots: LotHolding[], pools: TokenFlexPoolRecord[], packs: PackHolding[], history: Plan[]) =>
      balanceOfHoldings(account, planOf(history, now), { lots, pools, packs }, now, services.context.rules.creditAcceptanceEndAt);
    if (lots instanceof Promise || pools instanceof Promise || packs instanceof Promise || history instanceof Promise) {
      return Promise.all([lots, pools, packs, history]).then(([lots, pools, packs, history]) => compose(lots, pools, packs, history));
    }
    return compose(lots, pools, packs, history);
  }

  @FieldResolver(() => [CreditLot], { description: "Cloud-credit lots, soonest expiry first." })
  creditLots(
    @Root() account: AccountModel,
    @Arg("includeExpired", () => Boolean, { nullable: true, description: "Include expired lots (default false)." }) includeExpired: boolean | null,
    @Ctx() { loaders, services }: GraphQLContext,
  ) {
    const now = services.context.clock();
    return then(loaders.creditLots.loaded(account.id), (lots) => visible(lots, includeExpired, now));
  }

  @FieldResolver(() => [FlexPack], { description: "Flex packs, soonest expiry first." })
  flexPacks(
    @Root() account: AccountModel,
    @Arg("includeExpired", () => Boolean, { nullable: true, description: "Include expired packs (default false)." }) includeExpired: boolean | null,
    @Ctx() { loaders, services }: GraphQLContext,
  ) {
    const now = services.context.clock();
    return then(loaders.flexPacks.loaded(account.id), (packs) => visible(packs, includeExpired, now));
  }
}

@Resolver(() => CreditLot)
export class CreditLotResolver {
  @FieldResolver(() => Boolean, { description: "True once expiresAt has passed: what is left is lost." })
  expired(@Root() lot: LotHolding, @Ctx() { services }: GraphQLContext) {
    return lot.expiresAt <= services.context.clock();
  }
}

@Resolver(() => FlexPack)
export class FlexPackResolver {
  @FieldResolver(() => Boolean, { description: "True once expiresAt has passed: what is left is lost." })
  expired(@Root() pack: PackHolding, @Ctx() { services }: GraphQLContext) {
    return pack.expiresAt <= services.context.clock();
  }

  @FieldResolver(() => Reseller, { nullable: true, description: "The reseller that sold it; null for the eStore." })
  reseller(@Root() pack: FlexPackModel, @Ctx() { loaders }: GraphQLContext) {
    return pack.resellerId === null ? null : loaders.reseller.loaded(pack.resellerId);
  }
}
