import { Arg, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from "type-graphql";
import { notFound } from "../../core/errors.js";
import { type ApiKey as ApiKeyModel, ROLES } from "../../core/model.js";
import { parseId } from "../../core/text.js";
import type { GraphQLContext } from "../context.js";
import { AuditEntryConnection, ApiKey, CreateApiKeyInput, CreatedApiKey, Viewer } from "../types/key.type.js";
import { DateTimeScalar } from "../scalars.js";
import { decodeCursor, toConnection } from "../types/common.js";
import { Reseller } from "../types/reseller.type.js";
import { Roles } from "../roles.js";

@Resolver(() => ApiKey)
export class KeyResolver {
  @Roles(...ROLES)
  @Query(() => Viewer, { description: "The caller: role, key name and, for a partner, its reseller." })
  async viewer(@Ctx() { viewer, loaders }: GraphQLContext) {
    const { key } = viewer!;
    return { role: key.role, name: key.name, keyId: key.id, reseller: key.resellerId === null ? null : await loaders.reseller.load(key.resellerId) };
  }

  @Roles("OPERATOR")
  @Query(() => [ApiKey], { description: "Every API key, revoked ones included (secrets are never shown)." })
  apiKeys(@Ctx() { services }: GraphQLContext) {
    return services.keys.list();
  }

  @Roles("OPERATOR")
  @Mutation(() => CreatedApiKey, { description: "Creates an API key; its secret is in the answer and nowhere else, ever." })
  createApiKey(@Arg("input", () => CreateApiKeyInput, { description: "The new key." }) input: CreateApiKeyInput, @Ctx() { services, viewer }: GraphQLContext) {
    return services.keys.create({ ...input, resellerId: input.resellerId == null ? null : parseId(input.resellerId, "input.resellerId") }, viewer!.actor);
  }

  @Roles("OPERATOR")
  @Mutation(() => ApiKey, { description: "Revokes an API key at once and for good." })
  revokeApiKey(@Arg("id", () => ID, { description: "The key id." }) id: string, @Ctx() { services, viewer }: GraphQLContext) {
    return services.keys.revoke(parseId(id, "id"), viewer!.actor);
  }

  @Roles("OPERATOR")
  @Query(() => AuditEntryConnection, { description: "Every change made by operators and partners, newest first." })
  async auditLog(
    @Arg("first", () => Int, { nullable: true, description: "Page size, 1–100 (default 20)." }) first: number | null,
    @Arg("after", () => String, { nullable: true, description: "The endCursor of the previous page." }) after: string | null,
    @Arg("entityType", () => String, { nullable: true, description: 'Only changes to this kind of thing, such as "PriceEntry".' }) entityType: string | null,
    @Arg("actor", () => String, { nullable: true, description: "Only changes made by the key of this name (exact)." }) actor: string | null,
    @Arg("from", () => DateTimeScalar, { nullable: true, description: "Only changes made at or after this moment." }) from: number | null,
    @Arg("to", () => DateTimeScalar, { nullable: true, description: "Only changes made before this moment." }) to: number | null,
    @Ctx() { services }: GraphQLContext,
  ) {
    return toConnection(
      await services.audit.list(first, decodeCursor(after), { entityType: entityType ?? undefined, actor: actor ?? undefined, from: from ?? undefined, to: to ?? undefined }),
    );
  }

  @FieldResolver(() => Reseller, { nullable: true, description: "The reseller a PARTNER key is bound to." })
  async reseller(@Root() key: ApiKeyModel, @Ctx() { loaders }: GraphQLContext) {
    if (key.resellerId === null) return null;
    const reseller = await loaders.reseller.load(key.resellerId);
    if (!reseller) throw notFound("reseller");
    return reseller;
  }
}
