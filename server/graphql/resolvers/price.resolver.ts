import { Arg, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from "type-graphql";
import { ROLES } from "../../core/model.js";
import { parseId } from "../../core/text.js";
import type { PricePublication } from "../../services/prices.service.js";
import type { GraphQLContext } from "../context.js";
import { DateTimeScalar } from "../scalars.js";
import { Account } from "../types/account.type.js";
import { PriceEntry, PriceImpact, PriceImpactAccount, PublishPriceInput } from "../types/price.type.js";
import { Roles } from "../roles.js";

export function toPublication(input: PublishPriceInput): PricePublication {
  return { ...input, tokensPerUnitMicros: input.tokensPerUnit };
}

@Resolver(() => PriceEntry)
export class PriceResolver {
  @FieldResolver(() => String, { nullable: true, description: "The key that cancelled this version; null unless CANCELLED." })
  async cancelledBy(@Root() entry: PriceEntry, @Ctx() { services }: GraphQLContext) {
    return (await services.prices.cancellation(Number(entry.id)))?.cancelledBy ?? null;
  }

  @FieldResolver(() => String, { nullable: true, description: "Why this version was cancelled; null unless CANCELLED." })
  async cancelReason(@Root() entry: PriceEntry, @Ctx() { services }: GraphQLContext) {
    return (await services.prices.cancellation(Number(entry.id)))?.reason ?? null;
  }

  @Roles(...ROLES)
  @Query(() => [PriceEntry], { description: "The price versions in force at `asOf` (default now), one per priced API." })
  priceTable(@Arg("asOf", () => DateTimeScalar, { nullable: true, description: "The moment; default now." }) asOf: number | null, @Ctx() { services }: GraphQLContext) {
    return services.prices.priceTable(asOf);
  }

  @Roles(...ROLES)
  @Query(() => [PriceEntry], { description: "Every version of one API, oldest first, scheduled and cancelled ones included." })
  priceHistory(@Arg("apiCode", () => String, { description: "The API code." }) apiCode: string, @Ctx() { services }: GraphQLContext) {
    return services.prices.history(apiCode);
  }

  @Roles(...ROLES)
  @Query(() => [PriceEntry], { description: "Every version of every API, grouped by API code, oldest first." })
  priceVersions(@Ctx() { services }: GraphQLContext) {
    return services.prices.allVersions();
  }

  @Roles("OPERATOR")
  @Mutation(() => PriceEntry, { description: "Publishes a new price version, effective now or later (never in the past). Past charges keep their version." })
  publishPrice(@Arg("input", () => PublishPriceInput, { description: "The new version." }) input: PublishPriceInput, @Ctx() { services, viewer }: GraphQLContext) {
    return services.prices.publish(toPublication(input), viewer!.actor);
  }

  @Roles("OPERATOR")
  @Mutation(() => PriceEntry, { description: "Cancels a version that has not taken effect yet." })
  cancelScheduledPrice(
    @Arg("id", () => ID, { description: "The scheduled version." }) id: string,
    @Arg("reason", () => String, { description: "Why (kept in the audit log)." }) reason: string,
    @Ctx() { services, viewer }: GraphQLContext,
  ) {
    return services.prices.cancelScheduled(parseId(id, "id"), reason, viewer!.actor);
  }

  @Roles("OPERATOR")
  @Mutation(() => PriceEntry, { description: "Retires an API from `effectiveFrom` (default now): later usage for it is refused with PRICE_NOT_FOUND." })
  retirePrice(
    @Arg("apiCode", () => String, { description: "The API code." }) apiCode: string,
    @Arg("effectiveFrom", () => DateTimeScalar, { nullable: true, description: "When; now (default) or later." }) effectiveFrom: number | null,
    @Arg("note", () => String, { description: "Why the API is retired." }) note: string,
    @Ctx() { services, viewer }: GraphQLContext,
  ) {
    return services.prices.retire(apiCode, effectiveFrom, note, viewer!.actor);
  }

  @Roles("OPERATOR")
  @Mutation(() => PriceImpact, { description: "Re-rates the last `days` days of usage of the API at the proposed price; publishes nothing." })
  previewPriceChange(
    @Arg("input", () => PublishPriceInput, { description: "The proposed version." }) input: PublishPriceInput,
    @Arg("days", () => Int, { nullable: true, description: "How many days back, 1–366 (default 30)." }) days: number | null,
    @Ctx() { services }: GraphQLContext,
  ) {
    return services.insight.previewPriceChange(toPublication(input), days ?? 30);
  }
}

@Resolver(() => PriceImpactAccount)
export class PriceImpactAccountResolver {
  @FieldResolver(() => Account, { description: "The account." })
  account(@Root() impact: PriceImpactAccount, @Ctx() { loaders }: GraphQLContext) {
    return loaders.account.load(impact.accountId);
  }
}
