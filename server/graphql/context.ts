import DataLoader from "dataloader";
import type { Account, ChargeAllocation, CreditLot, FlexPack, Reseller, Viewer } from "../core/model.js";
import type { Page } from "../services/context.js";
import type { Services } from "../services/index.js";
import type { PriceEntryView } from "../services/prices.service.js";
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

/**
 * Loaders for every parent → child hop, made fresh for each request: a loader's cache must
 * never outlive the request, or one caller could see another's data.
 */
export function createLoaders(services: Services) {
  // First pages of reseller → accounts, one loader per page size asked for.
  const resellerAccountLoaders = new Map<number | null, DataLoader<number, Page<Account>>>();
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
    reseller: new DataLoader<number, Reseller | null>(async (ids) =>
      byKey(ids, new Map((await services.accounts.findResellers(ids)).map((reseller) => [reseller.id, reseller])), null),
    ),
    creditLots: new DataLoader<number, CreditLot[]>(async (accountIds) => byKey(accountIds, await services.accounts.creditLots(accountIds), [])),
    flexPacks: new DataLoader<number, FlexPack[]>(async (accountIds) => byKey(accountIds, await services.accounts.flexPacks(accountIds), [])),
    allocations: new DataLoader<number, ChargeAllocation[]>(async (chargeIds) => byKey(chargeIds, await services.ledger.allocations(chargeIds), [])),
    priceEntry: new DataLoader<number, PriceEntryView | null>(async (ids) =>
      byKey(ids, new Map((await services.prices.allVersions()).map((version) => [version.id, version])), null),
    ),
  };
}

export function createContext(services: Services, viewer: Viewer | null): GraphQLContext {
  return { viewer, services, access: new AccountAccess(viewer), loaders: createLoaders(services) };
}
