import DataLoader from "dataloader";
import type { FreeUsageRow } from "../core/free-allowance.js";
import type { Account, ChargeAllocation, LotHolding, PackHolding, Reseller, TokenFlexPoolRecord, Viewer } from "../core/model.js";
import type { Month } from "../core/month.js";
import type { PaygStatement } from "../core/payg.js";
import type { Plan } from "../core/plan.js";
import type { Page } from "../services/context.js";
import type { Services } from "../services/index.js";
import type { PriceEntryView } from "../services/prices.service.js";
import type { UnitRemainderView } from "../services/tiered.service.js";
import { AccountAccess } from "./access.js";

export interface GraphQLContext {
  readonly viewer: Viewer | null;
  readonly services: Services;
  readonly access: AccountAccess;
  readonly loaders: Loaders;
}

export type Loaders = ReturnType<typeof createLoaders>;

/** Batch results come back in key order, as DataLoader requires. */
function byKey<K, V>(keys: readonly K[], found: Map<K, V>, missing: V): V[] {
  return keys.map((key) => found.get(key) ?? missing);
}

/** One loader per value of an argument (a page size, a month), made on first use. */
function perArgument<A, K, V>(make: (argument: A) => DataLoader<K, V>): (argument: A) => DataLoader<K, V> {
  const loaders = new Map<A, DataLoader<K, V>>();
  return (argument) => {
    let loader = loaders.get(argument);
    if (!loader) loaders.set(argument, (loader = make(argument)));
    return loader;
  };
}

/**
 * A DataLoader whose values, once read, can also be taken without a promise: a page whose
 * children were read ahead (see prefetch.ts) resolves its fields synchronously, and graphql-js
 * (or graphql-jit) then spends nothing on a promise per field.
 */
export class SettledLoader<K, V> extends DataLoader<K, V> {
  private readonly settled: Map<K, V>;
  private readonly batch: (keys: readonly K[]) => Promise<V[]>;

  constructor(batch: (keys: readonly K[]) => Promise<V[]>) {
    const settled = new Map<K, V>();
    super(async (keys) => {
      const values = await batch(keys);
      keys.forEach((key, index) => settled.set(key, values[index]!));
      return values;
    });
    this.settled = settled;
    this.batch = batch;
  }

  /** The value when it has been read already, else the promise of it (the loader batches and caches as usual). */
  loaded(key: K): V | Promise<V> {
    return this.settled.has(key) ? this.settled.get(key)! : this.load(key);
  }

  /**
   * Reads the keys not read yet in one batch, as `loadMany` would, without a pending promise
   * and a microtask for each key: a page reads its fields' values ahead (prefetch.ts) and its
   * resolvers take them with `loaded`. They are primed into the cache, so a later `load` reads
   * nothing again. A failed read settles nothing: each field then loads its value itself and
   * answers the error at its own path, as it would without the read-ahead.
   */
  async readAhead(keys: readonly K[]): Promise<void> {
    const missing = [...new Set(keys)].filter((key) => !this.settled.has(key));
    if (missing.length === 0) return;
    let values: V[];
    try {
      values = await this.batch(missing);
    } catch {
      return;
    }
    missing.forEach((key, index) => {
      this.settled.set(key, values[index]!);
      this.prime(key, values[index]!);
    });
  }
}

/**
 * Loaders for every parent → child hop, made fresh for each request: a loader's cache must
 * never outlive the request, or one caller could see another's data.
 */
export function createLoaders(services: Services) {
  // First pages of reseller → accounts, one loader per page size asked for.
  const resellerAccountLoaders = new Map<number | null, DataLoader<number, Page<Account>>>();
  let holdingsOnly = false;
  return {
    resellerAccounts(first: number | null) {
      let loader = resellerAccountLoaders.get(first);
      if (!loader) {
        loader = new DataLoader<number, Page<Account>>(async (resellerIds) => {
          const pages = await services.accounts.firstAccountsOfResellers(resellerIds, first);
          return resellerIds.map((id) => pages.get(id)!);
        });
        resellerAccountLoaders.set(first, loader);
      }
      return loader;
    },
    account: new DataLoader<number, Account | null>(async (ids) =>
      byKey(ids, new Map((await services.accounts.findMany(ids)).map((account) => [account.id, account])), null),
    ),
    reseller: new SettledLoader<number, Reseller | null>(async (ids) =>
      byKey(ids, new Map((await services.accounts.findResellers(ids)).map((reseller) => [reseller.id, reseller])), null),
    ),
    /**
     * Lots and packs read as holdings only (see holdings.ts) from now on: for an operation that
     * selects nothing else of them, said before it runs. Full rows are holdings too, so a field
     * that reads them takes either.
     */
    readHoldingsOnly() {
      holdingsOnly = true;
    },
    creditLots: new SettledLoader<number, LotHolding[]>(async (accountIds) =>
      byKey(accountIds, holdingsOnly ? await services.accounts.lotHoldings(accountIds) : await services.accounts.creditLots(accountIds), []),
    ),
    flexPacks: new SettledLoader<number, PackHolding[]>(async (accountIds) =>
      byKey(accountIds, holdingsOnly ? await services.accounts.packHoldings(accountIds) : await services.accounts.flexPacks(accountIds), []),
    ),
    allocations: new DataLoader<number, ChargeAllocation[]>(async (chargeIds) => byKey(chargeIds, await services.ledger.allocations(chargeIds), [])),
    // The tiered regime (domain §8): a page of accounts reads each of these once.
    /** LEGACY, then each enrollment: the plan in force is read from it too (one read for both). */
    planHistory: new SettledLoader<number, Plan[]>(async (accountIds) => byKey(accountIds, await services.tiered.planHistories(accountIds), [])),
    /** Every pool of the account, expired ones included: the resolvers leave those out unless asked. */
    tokenFlexPools: new SettledLoader<number, TokenFlexPoolRecord[]>(async (accountIds) => byKey(accountIds, await services.funding.tokenFlexPoolsOf(accountIds, true), [])),
    unitRemainders: new DataLoader<number, UnitRemainderView[]>(async (accountIds) => byKey(accountIds, await services.tiered.unitRemaindersOf(accountIds), [])),
    /** By month, already checked ("YYYY-MM"). */
    freeUsage: perArgument((month: Month) => new DataLoader<number, FreeUsageRow[]>(async (accountIds) => byKey(accountIds, await services.tiered.freeUsageOf(accountIds, month), []))),
    /** By month, already checked ("YYYY-MM"). */
    paygStatement: perArgument((month: Month) =>
      new DataLoader<number, PaygStatement>(async (accountIds) => byKey(accountIds, await services.tiered.paygStatementsOf(accountIds, month), undefined as never)),
    ),
    priceEntry: new DataLoader<number, PriceEntryView | null>(async (ids) =>
      byKey(ids, new Map((await services.prices.allVersions()).map((version) => [version.id, version])), null),
    ),
  };
}

export function createContext(services: Services, viewer: Viewer | null): GraphQLContext {
  return { viewer, services, access: new AccountAccess(viewer), loaders: createLoaders(services) };
}
