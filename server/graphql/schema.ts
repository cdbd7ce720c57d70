import "reflect-metadata";
import { type GraphQLSchema, lexicographicSortSchema, printSchema } from "graphql";
import { buildSchemaSync } from "type-graphql";
import { authChecker } from "./access.js";
import { AccountResolver, CreditLotResolver, FlexPackResolver } from "./resolvers/account.resolver.js";
import { KeyResolver } from "./resolvers/key.resolver.js";
import { PriceResolver } from "./resolvers/price.resolver.js";
import { ResellerResolver } from "./resolvers/reseller.resolver.js";
import { AccountUsageResolver, AllocationResolver, UsageResolver } from "./resolvers/usage.resolver.js";

let built: GraphQLSchema | undefined;

/** The schema, built once per process from the type-graphql classes. */
export function graphqlSchema(): GraphQLSchema {
  built ??= buildSchemaSync({
    resolvers: [
      AccountResolver,
      CreditLotResolver,
      FlexPackResolver,
      AccountUsageResolver,
      ResellerResolver,
      PriceResolver,
      UsageResolver,
      AllocationResolver,
      KeyResolver,
    ],
    authChecker,
    authMode: "error",
    validate: false,
  });
  return built;
}

/** The SDL committed as schema/schema.graphql, sorted so the file diffs cleanly. */
export function printedSchema(): string {
  return `${printSchema(lexicographicSortSchema(graphqlSchema()))}\n`;
}
