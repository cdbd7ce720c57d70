import { Field, ID, InputType, ObjectType } from "type-graphql";
import { DateTimeScalar } from "../scalars.js";
import { Reseller } from "./reseller.type.js";
import { connectionOf } from "./common.js";
import { Role } from "./enums.js";

@ObjectType({ description: "An API key. Its secret is shown once, when it is created, and stored only as a hash." })
export class ApiKey {
  @Field(() => ID, { description: "Stable identifier." })
  id!: number;

  @Field(() => String, { description: "Who or what uses the key." })
  name!: string;

  @Field(() => Role, { description: "What the key may do." })
  role!: string;

  @Field(() => String, { description: "The first characters of the secret, to tell keys apart." })
  secretPrefix!: string;

  @Field(() => String, { description: "Who created it." })
  createdBy!: string;

  @Field(() => DateTimeScalar, { description: "When it was created." })
  createdAt!: number;

  @Field(() => DateTimeScalar, { nullable: true, description: "When it was revoked; revoked keys are refused at once." })
  revokedAt!: number | null;

  resellerId!: number | null;
}

@ObjectType({ description: "A new API key and its secret, which is never shown again." })
export class CreatedApiKey {
  @Field(() => ApiKey, { description: "The key." })
  key!: ApiKey;

  @Field(() => String, { description: "The secret to send as `Authorization: Bearer <secret>`. Store it now: it cannot be read again." })
  secret!: string;
}

@InputType({ description: "A new API key." })
export class CreateApiKeyInput {
  @Field(() => String, { description: "Who or what will use it." })
  name!: string;

  @Field(() => Role, { description: "What it may do." })
  role!: "OPERATOR" | "PARTNER" | "METERING" | "INTEGRATOR";

  @Field(() => ID, { nullable: true, description: "The reseller a PARTNER key is bound to (required for PARTNER, refused for others)." })
  resellerId?: string | null;
}

@ObjectType({ description: "The caller, as its API key identifies it." })
export class Viewer {
  @Field(() => Role, { description: "What the caller may do." })
  role!: string;

  @Field(() => String, { description: "The key's name." })
  name!: string;

  @Field(() => ID, { description: "The key's id." })
  keyId!: number;

  @Field(() => Reseller, { nullable: true, description: "The reseller a PARTNER key is bound to." })
  reseller!: Reseller | null;
}

@ObjectType({ description: "One change made by an operator or partner, with what it looked like before and after." })
export class AuditEntry {
  @Field(() => ID, { description: "Stable identifier; larger is newer." })
  id!: number;

  @Field(() => DateTimeScalar, { description: "When the change was made." })
  at!: number;

  @Field(() => String, { description: "The name of the key that made it." })
  actor!: string;

  @Field(() => String, { description: "The role of that key (or SYSTEM)." })
  actorRole!: string;

  @Field(() => String, { description: 'What was done, such as "price.publish".' })
  action!: string;

  @Field(() => String, { description: 'The kind of thing changed, such as "PriceEntry".' })
  entityType!: string;

  @Field(() => String, { description: "The id of the thing changed." })
  entityId!: string;

  @Field(() => String, { nullable: true, description: "JSON snapshot before the change; null for a creation." })
  before!: string | null;

  @Field(() => String, { nullable: true, description: "JSON snapshot after the change." })
  after!: string | null;
}

export const AuditEntryConnection = connectionOf(AuditEntry, "AuditEntry", "audit entry", "audit entries");
