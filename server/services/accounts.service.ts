import { balanceAt, type Balance } from "../core/balance.js";
import { badInput, notFound } from "../core/errors.js";
import { accountStatus } from "../core/account.js";
import { MAXIMA } from "../core/maxima.js";
import type { Account, AccountStatus, Actor, BalancePolicy, CreditLot, FlexPack, PartnerTier, Reseller } from "../core/model.js";
import { cleanCountry, cleanText } from "../core/text.js";
import {
  countAccounts,
  countAccountsOfResellers,
  firstAccountsOfResellers,
  countResellers,
  findAccount,
  findAccounts,
  findReseller,
  findResellers,
  insertAccount,
  insertReseller,
  listAccounts,
  listResellers,
  type ResellerQuery,
  updateAccountFields,
  updateResellerFields,
} from "../store/accounts.store.js";
import { appendAudit } from "../store/audit.store.js";
import { inTransaction, type Tx } from "../store/database.js";
import { creditLotsOf, flexPacksOf, lotAsSource, packAsSource } from "../store/funding.store.js";
import { type Page, pageSize, type ServiceContext, toPage } from "./context.js";

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

  find(id: number): Account | null {
    return findAccount(this.context.db, id);
  }

  findMany(ids: readonly number[]): Account[] {
    return findAccounts(this.context.db, ids);
  }

  list(filter: AccountFilter, first: number | null | undefined, afterId: number | undefined): Page<Account> {
    const limit = pageSize(first);
    const query = { resellerId: filter.resellerId, nameContains: filter.nameContains ?? undefined };
    return toPage(
      listAccounts(this.context.db, { ...query, afterId, limit: limit + 1 }),
      limit,
      () => countAccounts(this.context.db, query),
    );
  }

  status(account: Account): AccountStatus {
    return accountStatus(account, this.context.clock());
  }

  /** Balances of several accounts now, in one pass over their lots and packs. */
  balances(accounts: readonly Account[]): Balance[] {
    const now = this.context.clock();
    const ids = accounts.map((account) => account.id);
    const lots = groupBy(creditLotsOf(this.context.db, ids), (lot) => lot.accountId);
    const packs = groupBy(flexPacksOf(this.context.db, ids), (pack) => pack.accountId);
    return accounts.map((account) =>
      balanceAt(
        [...(lots.get(account.id) ?? []).map(lotAsSource), ...(packs.get(account.id) ?? []).map(packAsSource)],
        account,
        now,
      ),
    );
  }

  creditLots(accountIds: readonly number[]): Map<number, CreditLot[]> {
    return groupBy(creditLotsOf(this.context.db, accountIds), (lot) => lot.accountId);
  }

  flexPacks(accountIds: readonly number[]): Map<number, FlexPack[]> {
    return groupBy(flexPacksOf(this.context.db, accountIds), (pack) => pack.accountId);
  }

  /** @throws FlexgateError BAD_USER_INPUT, NOT_FOUND (reseller) */
  create(input: AccountInput, actor: Actor, options: { demo?: boolean } = {}): Account {
    const fields = this.validateAccount(input, "input");
    if (fields.name === undefined) throw badInput("input.name", "input.name is required");
    return inTransaction(this.context.db, "immediate", (tx) => {
      this.checkReseller(tx, fields.resellerId, "input.resellerId");
      const now = this.context.clock();
      const account = insertAccount(
        tx,
        {
          name: fields.name!,
          country: fields.country ?? null,
          resellerId: fields.resellerId ?? null,
          balancePolicy: fields.balancePolicy ?? "NEGATIVE_WITH_GRACE",
          demo: options.demo,
        },
        now,
      );
      appendAudit(tx, actor, { action: "account.create", entityType: "Account", entityId: account.id, before: null, after: account }, now);
      return account;
    });
  }

  /** @throws FlexgateError BAD_USER_INPUT, NOT_FOUND */
  update(id: number, input: AccountInput, actor: Actor): Account {
    const fields = this.validateAccount(input, "input");
    return inTransaction(this.context.db, "immediate", (tx) => {
      const before = findAccount(tx, id);
      if (!before) throw notFound("account", "id");
      this.checkReseller(tx, fields.resellerId, "input.resellerId");
      const now = this.context.clock();
      const after = updateAccountFields(tx, id, fields, now);
      appendAudit(tx, actor, { action: "account.update", entityType: "Account", entityId: id, before, after }, now);
      return after;
    });
  }

  /** The first page of accounts of each reseller, batched for a page of resellers. */
  firstAccountsOfResellers(resellerIds: readonly number[], first: number | null | undefined): Map<number, Page<Account>> {
    const limit = pageSize(first);
    const rows = groupBy(firstAccountsOfResellers(this.context.db, resellerIds, limit + 1), (account) => account.resellerId!);
    const counts = countAccountsOfResellers(this.context.db, resellerIds);
    return new Map(resellerIds.map((id) => [id, toPage(rows.get(id) ?? [], limit, counts.get(id) ?? 0)]));
  }

  findReseller(id: number): Reseller | null {
    return findReseller(this.context.db, id);
  }

  findResellers(ids: readonly number[]): Reseller[] {
    return findResellers(this.context.db, ids);
  }

  listResellers(filter: ResellerFilter, first: number | null | undefined, afterId: number | undefined): Page<Reseller> {
    const limit = pageSize(first);
    return toPage(
      listResellers(this.context.db, { ...filter, afterId, limit: limit + 1 }),
      limit,
      () => countResellers(this.context.db, filter),
    );
  }

  /** @throws FlexgateError BAD_USER_INPUT */
  createReseller(input: ResellerInput, actor: Actor, options: { demo?: boolean } = {}): Reseller {
    const fields = this.validateReseller(input);
    if (fields.name === undefined) throw badInput("input.name", "input.name is required");
    if (fields.tier === undefined) throw badInput("input.tier", "input.tier is required");
    return inTransaction(this.context.db, "immediate", (tx) => {
      const now = this.context.clock();
      const reseller = insertReseller(
        tx,
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
      appendAudit(tx, actor, { action: "reseller.create", entityType: "Reseller", entityId: reseller.id, before: null, after: reseller }, now);
      return reseller;
    });
  }

  /** @throws FlexgateError BAD_USER_INPUT, NOT_FOUND */
  updateReseller(id: number, input: ResellerInput, actor: Actor): Reseller {
    const fields = this.validateReseller(input);
    return inTransaction(this.context.db, "immediate", (tx) => {
      const before = findReseller(tx, id);
      if (!before) throw notFound("reseller", "id");
      const now = this.context.clock();
      const after = updateResellerFields(tx, id, fields, now);
      appendAudit(tx, actor, { action: "reseller.update", entityType: "Reseller", entityId: id, before, after }, now);
      return after;
    });
  }

  private checkReseller(tx: Tx, resellerId: number | null | undefined, field: string) {
    if (resellerId != null && !findReseller(tx, resellerId)) throw notFound("reseller", field);
  }

  /** Keeps only the fields given; null clears an optional one. */
  private validateAccount(input: AccountInput, field: string) {
    const fields: { name?: string; country?: string | null; resellerId?: number | null; balancePolicy?: BalancePolicy } = {};
    if (input.name != null) fields.name = cleanText(input.name, `${field}.name`, { max: 200 });
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

export function groupBy<T, K>(items: readonly T[], key: (item: T) => K): Map<K, T[]> {
  const groups = new Map<K, T[]>();
  for (const item of items) {
    const group = groups.get(key(item));
    if (group) group.push(item);
    else groups.set(key(item), [item]);
  }
  return groups;
}
