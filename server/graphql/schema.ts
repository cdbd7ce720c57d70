import "reflect-metadata";
import { type GraphQLSchema, lexicographicSortSchema, printSchema } from "graphql";
import { buildSchemaSync } from "type-graphql";
import { DEFERRING_SCALARS } from "./scalars.js";
import { directResolvers } from "./direct-resolvers.js";
import { plainFields } from "./plain-fields.js";
import { strictInputs } from "./unparsed.js";
import { AccountResolver, CreditLotResolver, FlexPackResolver } from "./resolvers/account.resolver.js";
import { KeyResolver } from "./resolvers/key.resolver.js";
import { PriceImpactAccountResolver, PriceResolver } from "./resolvers/price.resolver.js";
import { ResellerResolver } from "./resolvers/reseller.resolver.js";
import { AccountTieredResolver, TieredResolver } from "./resolvers/tiered.resolver.js";
import { AccountUsageResolver, AllocationResolver, UsageResolver } from "./resolvers/usage.resolver.js";

let built: GraphQLSchema | undefined;

/** The schema, built once per process from the type-graphql classes. */
export function graphqlSchema(): GraphQLSchema {
  built ??= plainFields(strictInputs(directResolvers(describeRoots(buildSchemaSync({
    resolvers: [
      AccountResolver,
      CreditLotResolver,
      FlexPackResolver,
      AccountUsageResolver,
      AccountTieredResolver,
      TieredResolver,
      ResellerResolver,
      PriceResolver,
      PriceImpactAccountResolver,
      UsageResolver,
      AllocationResolver,
      KeyResolver,
    ],
    validate: false,
  }))), DEFERRING_SCALARS));
  return built;
}

/**
 * type-graphql cannot describe the root types, and integrators read every description through
 * introspection, these included.
 */
function describeRoots(schema: GraphQLSchema): GraphQLSchema {
  schema.getQueryType()!.description =
    "Reads: accounts with their balances and history, the reseller directory, prices, quotes and the audit log. What a key may read depends on its role.";
  schema.getMutationType()!.description =
    "Writes: usage, Flex purchases, lot and Token Flex pool imports, plan enrollments, accounts, resellers, prices, free caps and API keys. Each runs as one transaction; what a key may do depends on its role.";
  return schema;
}

/** The SDL committed as schema/schema.graphql, sorted so the file diffs cleanly. */
export function printedSchema(): string {
  return `${printSchema(lexicographicSortSchema(graphqlSchema()))}\n`;
}
