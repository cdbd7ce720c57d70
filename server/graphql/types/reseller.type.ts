import { Field, ID, InputType, ObjectType } from "type-graphql";
import { DateTimeScalar } from "../scalars.js";
import { connectionOf } from "./common.js";
import { PartnerTier } from "./enums.js";

@ObjectType({ description: "An Autodesk partner that may sell Flex tokens, with its Customer Success Hub search facets." })
export class Reseller {
  @Field(() => ID, { description: "Stable identifier." })
  id!: number;

  @Field(() => String, { description: "Company name." })
  name!: string;

  @Field(() => PartnerTier, { description: "Platinum or Gold." })
  tier!: string;

  @Field(() => Boolean, { description: "Has signed the Flex agreement: only then may it sell Flex tokens." })
  flexAgreement!: boolean;

  @Field(() => Boolean, { description: "Currently trading; inactive resellers cannot sell Flex." })
  active!: boolean;

  @Field(() => [String], { description: "Countries it serves." })
  locations!: string[];

  @Field(() => [String], { description: "Languages it works in." })
  languages!: string[];

  @Field(() => [String], { description: 'Services it offers, such as "Flex".' })
  services!: string[];

  @Field(() => Boolean, { description: "True for the demo data loaded into an empty database." })
  demo!: boolean;

  @Field(() => DateTimeScalar, { description: "When the reseller record was created." })
  createdAt!: number;
}

export const ResellerConnection = connectionOf(Reseller, "Reseller", "reseller");

@InputType({ description: "Narrows the reseller directory, like the Customer Success Hub partner search." })
export class ResellerFilter {
  @Field(() => String, { nullable: true, description: "Serves this country." })
  location?: string | null;

  @Field(() => String, { nullable: true, description: "Works in this language." })
  language?: string | null;

  @Field(() => String, { nullable: true, description: 'Offers this service, such as "Flex".' })
  service?: string | null;

  @Field(() => PartnerTier, { nullable: true, description: "Only this tier." })
  tier?: "PLATINUM" | "GOLD" | null;

  @Field(() => Boolean, { nullable: true, description: "Only resellers with (true) or without (false) a Flex agreement." })
  flexAgreement?: boolean | null;

  @Field(() => Boolean, { nullable: true, description: "Only active (true) or inactive (false) resellers." })
  active?: boolean | null;
}

@InputType({ description: "A new reseller." })
export class CreateResellerInput {
  @Field(() => String, { description: "Company name (1–200 characters)." })
  name!: string;

  @Field(() => PartnerTier, { description: "Platinum or Gold." })
  tier!: "PLATINUM" | "GOLD";

  @Field(() => Boolean, { description: "Has signed the Flex agreement." })
  flexAgreement!: boolean;

  @Field(() => Boolean, { nullable: true, description: "Trading now; defaults to true." })
  active?: boolean | null;

  @Field(() => [String], { nullable: true, description: "Countries it serves." })
  locations?: string[] | null;

  @Field(() => [String], { nullable: true, description: "Languages it works in." })
  languages?: string[] | null;

  @Field(() => [String], { nullable: true, description: "Services it offers." })
  services?: string[] | null;
}

@InputType({ description: "Changes to a reseller; omitted fields stay as they are." })
export class UpdateResellerInput {
  @Field(() => String, { nullable: true, description: "New company name." })
  name?: string | null;

  @Field(() => PartnerTier, { nullable: true, description: "New tier." })
  tier?: "PLATINUM" | "GOLD" | null;

  @Field(() => Boolean, { nullable: true, description: "Flex agreement signed or ended." })
  flexAgreement?: boolean | null;

  @Field(() => Boolean, { nullable: true, description: "Trading or not." })
  active?: boolean | null;

  @Field(() => [String], { nullable: true, description: "Replaces the countries it serves." })
  locations?: string[] | null;

  @Field(() => [String], { nullable: true, description: "Replaces the languages it works in." })
  languages?: string[] | null;

  @Field(() => [String], { nullable: true, description: "Replaces the services it offers." })
  services?: string[] | null;
}
