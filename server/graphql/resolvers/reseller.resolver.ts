import { Arg, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from "type-graphql";
import { notFound } from "../../core/errors.js";
import type { Reseller as ResellerModel } from "../../core/model.js";
import { parseId } from "../../core/text.js";
import type { GraphQLContext } from "../context.js";
import { AccountConnection } from "../types/account.type.js";
import { decodeCursor, toConnection } from "../types/common.js";
import { CreateResellerInput, Reseller, ResellerConnection, ResellerFilter, UpdateResellerInput } from "../types/reseller.type.js";
import { Roles } from "../roles.js";

@Resolver(() => Reseller)
export class ResellerResolver {
  @Roles("OPERATOR", "PARTNER", "INTEGRATOR")
  @Query(() => Reseller, { nullable: true, description: "One reseller of the directory." })
  async reseller(@Arg("id", () => ID, { description: "The reseller id." }) id: string, @Ctx() { loaders }: GraphQLContext) {
    const reseller = await loaders.reseller.load(parseId(id, "id"));
    if (!reseller) throw notFound("reseller", "id");
    return reseller;
  }

  @Roles("OPERATOR", "PARTNER", "INTEGRATOR")
  @Query(() => ResellerConnection, { description: "The reseller directory, filtered like the Customer Success Hub partner search." })
  async resellers(
    @Arg("first", () => Int, { nullable: true, description: "Page size, 1–100 (default 20)." }) first: number | null,
    @Arg("after", () => String, { nullable: true, description: "The endCursor of the previous page." }) after: string | null,
    @Arg("filter", () => ResellerFilter, { nullable: true, description: "Narrows the directory." }) filter: ResellerFilter | null,
    @Ctx() { services, loaders }: GraphQLContext,
  ) {
    const page = await services.accounts.listResellers(
      {
        location: filter?.location ?? undefined,
        language: filter?.language ?? undefined,
        service: filter?.service ?? undefined,
        tier: filter?.tier ?? undefined,
        flexAgreement: filter?.flexAgreement ?? undefined,
        active: filter?.active ?? undefined,
      },
      first,
      decodeCursor(after),
    );
    for (const reseller of page.items) loaders.reseller.prime(reseller.id, reseller);
    return toConnection(page);
  }

  @Roles("OPERATOR")
  @Mutation(() => Reseller, { description: "Adds a reseller to the directory." })
  createReseller(@Arg("input", () => CreateResellerInput, { description: "The new reseller." }) input: CreateResellerInput, @Ctx() { services, viewer }: GraphQLContext) {
    return services.accounts.createReseller(input, viewer!.actor);
  }

  @Roles("OPERATOR")
  @Mutation(() => Reseller, { description: "Changes a reseller: name, tier, Flex agreement, activity, facets." })
  updateReseller(
    @Arg("id", () => ID, { description: "The reseller id." }) id: string,
    @Arg("input", () => UpdateResellerInput, { description: "The changes." }) input: UpdateResellerInput,
    @Ctx() { services, viewer }: GraphQLContext,
  ) {
    return services.accounts.updateReseller(parseId(id, "id"), input, viewer!.actor);
  }

  @Roles("OPERATOR", "PARTNER")
  @FieldResolver(() => AccountConnection, { description: "The reseller's customers. A partner sees only its own reseller's." })
  async accounts(
    @Root() reseller: ResellerModel,
    @Arg("first", () => Int, { nullable: true, description: "Page size, 1–100 (default 20)." }) first: number | null,
    @Arg("after", () => String, { nullable: true, description: "The endCursor of the previous page." }) after: string | null,
    @Ctx() { services, access, loaders }: GraphQLContext,
  ) {
    const scope = access.resellerScope;
    const resellerId = scope === undefined || scope === reseller.id ? reseller.id : -1;
    const afterId = decodeCursor(after);
    const page =
      afterId === undefined
        ? await loaders.resellerAccounts(first).load(resellerId)
        : await services.accounts.list({ resellerId }, first, afterId);
    for (const account of page.items) loaders.account.prime(account.id, account);
    return toConnection(page);
  }
}
