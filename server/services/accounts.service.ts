import { balanceAt, type Balance } from "../core/balance.js";
import { badInput, notFound } from "../core/errors.js";
import { balanceUnderPlan, type Enrollment, type Plan, planAt, statusUnderPlan } from "../core/plan.js";
import { MAXIMA } from "../core/maxima.js";
import type { Account, AccountStatus, Actor, BalancePolicy, CreditLot, FlexPack, Instant, LotHolding, PackHolding, PartnerTier, Reseller, TokenFlexPoolRecord } from "../core/model.js";
import { cleanCountry, cleanText } from "../core/text.js";
import { lotAsSource, packAsSource, poolAsSource } from "../store/sources.js";
import type { ResellerQuery, StoreReads } from "../store/port.js";
import { type Page, pageSize, type ServiceContext, toPage } from "./context.js";

/** The longest account name: longer names are refused, and a longer filter matches nothing. */
const ACCOUNT_NAME_MAX = 200;

export interface AccountInput {
  readonly name?: string | null;
  readonly country?: string | null;
  readonly resellerId?: number | null;
  readonly balancePolicy?: BalancePolicy | null;
}

export interface ResellerInput {
  readonly name?: string | null;
  readonly tier?: PartnerTier | null;
  readonly flexAgreement?: boolean | null;
  readonly active?: boolean | null;
  readonly locations?: readonly string[] | null;
  readonly languages?: readonly string[] | null;
  readonly services?: readonly string[] | null;
}

export interface AccountFilter {
  /** Only the accounts of this reseller (a partner's scope, or an operator's filter). */
  readonly resellerId?: number | null;
  readonly nameContains?: string | null;
}

export type ResellerFilter = Omit<ResellerQuery, "afterId" | "limit">;

const BALANCE_POLICIES: readonly BalancePolicy[] = ["NEGATIVE_WITH_GRACE", "HARD_STOP"];
const TIERS: readonly PartnerTier[] = ["PLATINUM", "GOLD"];

/** Accounts and resellers: the directory, with every change audited. */
export class AccountService {
  constructor(private readonly context: ServiceContext) {}

  private get reads() {
    return this.context.store.reads;
  }

  find(id: number): Promise<Account | null> {
    return this.reads.findAccount(id);
  }

  findMany(ids: readonly number[]): Promise<Account[]> {
    return this.reads.findAccounts(ids);
  }

  async list(filter: AccountFilter, first: number | null | undefined, afterId: number | undefined): Promise<Page<Account>> {
    const limit = pageSize(first);
    const { nameContains } = filter;
    // No name is longer, so nothing matches: SQLite would refuse a LIKE pattern of 50,000
    // characters as too complex, and the database need not be asked.
    if (nameContains != null && nameContains.length > ACCOUNT_NAME_MAX) return toPage([], limit, 0);
    const query = { resellerId: filter.resellerId, nameContains: nameContains ?? undefined };
    return toPage(await this.reads.listAccounts({ ...query, afterId, limit: limit + 1 }), limit, () => this.reads.countAccounts(query));
  }

  /**
   * The account's status now under the plan in force now (statusUnderPlan): LEGACY keeps its
   * 14-day grace; a tiered plan has none, and PAYG is never restricted. Calls made in the same
   * tick (a page of accounts each asking for its status) share one read of the enrollments.
   */
  async status(account: Account): Promise<AccountStatus> {
    const enrollments = await this.enrollmentsThisTick(account.id);
    const now = this.context.clock();
    return statusUnderPlan(planAt(enrollments.get(account.id) ?? [], now), account, now);
  }

  /** The statuses of several accounts now, with one read of their enrollments. */
  async statuses(accounts: readonly Account[]): Promise<AccountStatus[]> {
    const enrollments = await this.reads.enrollmentsOf(accounts.map((account) => account.id));
    const now = this.context.clock();
    return accounts.map((account) => statusUnderPlan(planAt(enrollments.get(account.id) ?? [], now), account, now));
  }

  private pendingEnrollments: { readonly ids: Set<number>; readonly read: Promise<Map<number, Enrollment[]>> } | null = null;

  /** The enrollments of every account asked for in this tick, read once when the tick ends. */
  private enrollmentsThisTick(accountId: number): Promise<Map<number, Enrollment[]>> {
    if (!this.pendingEnrollments) {
      const ids = new Set<number>();
      const read = new Promise<void>((resolve) => process.nextTick(resolve)).then(() => {
        this.pendingEnrollments = null;
        return this.reads.enrollmentsOf([...ids]);
      });
      this.pendingEnrollments = { ids, read };
    }
    this.pendingEnrollments.ids.add(accountId);
    return this.pendingEnrollments.read;
  }

  /**
   * Balances of several accounts now, in one pass over their lots, Token Flex pools and packs:
   * pools count among the flex tokens. Under a tiered plan no grace end is shown (there is none).
   */
  async balances(accounts: readonly Account[]): Promise<Balance[]> {
    const now = this.context.clock();
    const ids = accounts.map((account) => account.id);
    const [lots, pools, packs, enrollments] = await this.context.store.snapshot(async (reads) => [
      groupBy(await reads.lotHoldingsOf(ids), (lot) => lot.accountId),
      groupBy(await reads.tokenFlexPoolsOf(ids), (pool) => pool.accountId),
      groupBy(await reads.packHoldingsOf(ids), (pack) => pack.accountId),
      await reads.enrollmentsOf(ids),
    ] as const);
    return accounts.map((account) =>
      balanceOfHoldings(
        account,
        planAt(enrollments.get(account.id) ?? [], now),
        { lots: lots.get(account.id) ?? [], pools: pools.get(account.id) ?? [], packs: packs.get(account.id) ?? [] },
        now,
        this.context.rules.creditAcceptanceEndAt,
      ),
    );
  }

  async creditLots(accountIds: readonly number[]): Promise<Map<number, CreditLot[]>> {
    return groupBy(await this.reads.creditLotsOf(accountIds), (lot) => lot.accountId);
  }

  async flexPacks(accountIds: readonly number[]): Promise<Map<number, FlexPack[]>> {
    return groupBy(await this.reads.flexPacksOf(accountIds), (pack) => pack.accountId);
  }

  async lotHoldings(accountIds: readonly number[]): Promise<Map<number, LotHolding[]>> {
    return groupBy(await this.reads.lotHoldingsOf(accountIds), (lot) => lot.accountId);
  }

  async packHoldings(accountIds: readonly number[]): Promise<Map<number, PackHolding[]>> {
    return groupBy(await this.reads.packHoldingsOf(accountIds), (pack) => pack.accountId);
  }

  /** @throws FlexgateError BAD_USER_INPUT, NOT_FOUND (reseller) */
  async create(input: AccountInput, actor: Actor, options: { demo?: boolean } = {}): Promise<Account> {
    const fields = this.validateAccount(input, "input");
    if (fields.name === undefined) throw badInput("input.name", "input.name is required");
    return this.context.store.write({}, async (tx) => {
      await this.checkReseller(tx, fields.resellerId, "input.resellerId");
      const now = this.context.clock();
      const account = await tx.insertAccount(
        {
          name: fields.name!,
          country: fields.country ?? null,
          resellerId: fields.resellerId ?? null,
          balancePolicy: fields.balancePolicy ?? "NEGATIVE_WITH_GRACE",
          demo: options.demo,
        },
        now,
      );
      await tx.appendAudit(actor, { action: "account.create", entityType: "Account", entityId: account.id, before: null, after: account }, now);
      return account;
    });
  }

  /** @throws FlexgateError BAD_USER_INPUT, NOT_FOUND */
  async update(id: number, input: AccountInput, actor: Actor): Promise<Account> {
    const fields = this.validateAccount(input, "input");
    return this.context.store.write({ accounts: [id] }, async (tx) => {
      const before = await tx.findAccount(id);
      if (!before) throw notFound("account", "id");
      await this.checkReseller(tx, fields.resellerId, "input.resellerId");
      const now = this.context.clock();
      const after = await tx.updateAccountFields(id, fields, now);
      await tx.appendAudit(actor, { action: "account.update", entityType: "Account", entityId: id, before, after }, now);
      return after;
    });
  }

  /** The first page of accounts of each reseller, batched for a page of resellers. */
  async firstAccountsOfResellers(resellerIds: readonly number[], first: number | null | undefined): Promise<Map<number, Page<Account>>> {
    const limit = pageSize(first);
    const [rows, counts] = await this.context.store.snapshot(async (reads) => [
      groupBy(await reads.firstAccountsOfResellers(resellerIds, limit + 1), (account) => account.resellerId!),
      await reads.countAccountsOfResellers(resellerIds),
    ] as const);
    return new Map(resellerIds.map((id) => [id, toPage(rows.get(id) ?? [], limit, counts.get(id) ?? 0)]));
  }

  findReseller(id: number): Promise<Reseller | null> {
    return this.reads.findReseller(id);
  }

  findResellers(ids: readonly number[]): Promise<Reseller[]> {
    return this.reads.findResellers(ids);
  }

  async listResellers(filter: ResellerFilter, first: number | null | undefined, afterId: number | undefined): Promise<Page<Reseller>> {
    const limit = pageSize(first);
    return toPage(await this.reads.listResellers({ ...filter, afterId, limit: limit + 1 }), limit, () => this.reads.countResellers(filter));
  }

  /** @throws FlexgateError BAD_USER_INPUT */
  async createReseller(input: ResellerInput, actor: Actor, options: { demo?: boolean } = {}): Promise<Reseller> {
    const fields = this.validateReseller(input);
    if (fields.name === undefined) throw badInput("input.name", "input.name is required");
    if (fields.tier === undefined) throw badInput("input.tier", "input.tier is required");
    return this.context.store.write({}, async (tx) => {
      const now = this.context.clock();
      const reseller = await tx.insertReseller(
        {
          name: fields.name!,
          tier: fields.tier!,
          flexAgreement: fields.flexAgreement ?? false,
          active: fields.active ?? true,
          locations: fields.locations ?? [],
          languages: fields.languages ?? [],
          services: fields.services ?? [],
          demo: options.demo,
        },
        now,
      );
      await tx.appendAudit(actor, { action: "reseller.create", entityType: "Reseller", entityId: reseller.id, before: null, after: reseller }, now);
      return reseller;
    });
  }

  /** @throws FlexgateError BAD_USER_INPUT, NOT_FOUND */
  async updateReseller(id: number, input: ResellerInput, actor: Actor): Promise<Reseller> {
    const fields = this.validateReseller(input);
    return this.context.store.write({}, async (tx) => {
      const before = await tx.findReseller(id);
      if (!before) throw notFound("reseller", "id");
      const now = this.context.clock();
      const after = await tx.updateResellerFields(id, fields, now);
      await tx.appendAudit(actor, { action: "reseller.update", entityType: "Reseller", entityId: id, before, after }, now);
      return after;
    });
  }

  private async checkReseller(reads: StoreReads, resellerId: number | null | undefined, field: string) {
    if (resellerId != null && !(await reads.findReseller(resellerId))) throw notFound("reseller", field);
  }

  /** Keeps only the fields given; null clears an optional one. */
  private validateAccount(input: AccountInput, field: string) {
    const fields: { name?: string; country?: string | null; resellerId?: number | null; balancePolicy?: BalancePolicy } = {};
    if (input.name != null) fields.name = cleanText(input.name, `${field}.name`, { max: ACCOUNT_NAME_MAX });
    if (input.country !== undefined) fields.country = input.country === null ? null : cleanCountry(input.country, `${field}.country`);
    if (input.resellerId !== undefined) fields.resellerId = input.resellerId;
    if (input.balancePolicy != null) {
      if (!BALANCE_POLICIES.includes(input.balancePolicy)) throw badInput(`${field}.balancePolicy`, "unknown balance policy");
      fields.balancePolicy = input.balancePolicy;
    }
    return fields;
  }

  private validateReseller(input: ResellerInput) {
    const fields: {
      name?: string;
      tier?: PartnerTier;
      flexAgreement?: boolean;
      active?: boolean;
      locations?: string[];
      languages?: string[];
      services?: string[];
    } = {};
    if (input.name != null) fields.name = cleanText(input.name, "input.name", { max: 200 });
    if (input.tier != null) {
      if (!TIERS.includes(input.tier)) throw badInput("input.tier", "unknown partner tier");
      fields.tier = input.tier;
    }
    if (input.flexAgreement != null) fields.flexAgreement = input.flexAgreement;
    if (input.active != null) fields.active = input.active;
    for (const facet of ["locations", "languages", "services"] as const) {
      const values = input[facet];
      if (values == null) continue;
      if (values.length > MAXIMA.facetEntries) throw badInput(`input.${facet}`, `input.${facet} may hold at most ${MAXIMA.facetEntries} entries`);
      fields[facet] = [...new Set(values.map((value) => cleanText(value, `input.${facet}`, { max: 100 })))];
    }
    return fields;
  }
}

/** What an account holds: its lots, Token Flex pools and packs, expired ones included or not. */
export interface Holdings {
  readonly lots: readonly LotHolding[];
  readonly pools: readonly TokenFlexPoolRecord[];
  readonly packs: readonly PackHolding[];
}

/**
 * The balance at `now` of what the account holds, under the plan in force then: pools count
 * among the flex tokens, and a tiered plan shows no grace end. `balances` reads the holdings in
 * one snapshot; the GraphQL layer passes those its loaders already read for the page. Lots count
 * for nothing from `creditAcceptanceEndAt` on (balanceAt; the configured BillingRules value).
 */
export function balanceOfHoldings(account: Account, plan: Plan, holdings: Holdings, now: Instant, creditAcceptanceEndAt: Instant): Balance {
  const sources = [...holdings.lots.map(lotAsSource), ...holdings.pools.map(poolAsSource), ...holdings.packs.map(packAsSource)];
  return balanceUnderPlan(plan, balanceAt(sources, account, now, creditAcceptanceEndAt));
}

export function groupBy<T, K>(items: readonly T[], key: (item: T) => K): Map<K, T[]> {
  const groups = new Map<K, T[]>();
  for (const item of items) {
    const group = groups.get(key(item));
    if (group) group.push(item);
    else groups.set(key(item), [item]);
  }
  return groups;
}
