import type { FieldNode, GraphQLResolveInfo, SelectionSetNode } from "graphql";
import type { Account } from "../core/model.js";
import type { ConnectionValue, Edge } from "./types/common.js";
import type { Loaders } from "./context.js";
import { selectedFields } from "./selections.js";

/** The loaders a page of accounts can read ahead, each keyed by account id except `reseller`. */
type PageLoader = "planHistory" | "reseller" | "creditLots" | "tokenFlexPools" | "flexPacks";

/**
 * What each Account field reads, in the order its resolver asks: a page reads ahead in the order
 * the resolvers would have, so it makes the same statements in the same order as without the
 * read-ahead. `balance` with `asOf` reads the past instead, and is left to its resolver.
 */
const READS: Readonly<Record<string, (field: FieldNode) => readonly PageLoader[]>> = {
  status: () => ["planHistory"],
  plan: () => ["planHistory"],
  reseller: () => ["reseller"],
  balance: (field) => (field.arguments?.some((argument) => argument.name.value === "asOf") ? [] : ["creditLots", "tokenFlexPools", "flexPacks", "planHistory"]),
  creditLots: () => ["creditLots"],
  flexPacks: () => ["flexPacks"],
};

/**
 * The loaders the Account fields selected under `edges { node { … } }` of a connection will use,
 * in the order they first ask for them; fields skipped by @skip or @include read nothing.
 */
export function pageReads(info: GraphQLResolveInfo): PageLoader[] {
  const reads: PageLoader[] = [];
  const fields = (selectionSet: SelectionSetNode | undefined) => selectedFields(selectionSet, info.fragments, info.variableValues);
  const named = (name: string) => (field: FieldNode) => field.name.value === name;
  for (const connection of info.fieldNodes) {
    for (const edges of fields(connection.selectionSet).filter(named("edges"))) {
      for (const node of fields(edges.selectionSet).filter(named("node"))) {
        for (const field of fields(node.selectionSet)) {
          for (const read of READS[field.name.value]?.(field) ?? []) if (!reads.includes(read)) reads.push(read);
        }
      }
    }
  }
  return reads;
}

/**
 * Reads ahead what a page's Account fields will ask for, through the request's loaders (so in
 * one batch per loader, cached for the request), when graphql-js reaches the page's edges: by
 * then fields before them (totalCount) have made their own reads, in the order they always did.
 * The fields then find their values settled and resolve without a promise each.
 */
export function readingAhead(connection: ConnectionValue<Account>, reads: readonly PageLoader[], loaders: Loaders): ConnectionValue<Account> {
  const accounts = connection.edges.map((edge) => edge.node);
  if (reads.length === 0 || accounts.length === 0) return connection;
  const edges = connection.edges;
  let ready: Promise<Edge<Account>[]> | undefined;
  const read = async () => {
    const ids = accounts.map((account) => account.id);
    const resellerIds = [...new Set(accounts.flatMap((account) => (account.resellerId === null ? [] : [account.resellerId])))];
    await Promise.all(reads.map((loader) => (loader === "reseller" ? loaders.reseller.readAhead(resellerIds) : loaders[loader].readAhead(ids))));
    return edges;
  };
  return Object.defineProperty(connection, "edges", { get: () => (ready ??= read()), enumerable: true, configurable: true });
}
