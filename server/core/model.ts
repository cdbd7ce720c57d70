/**
 * The entities as the services hand them out: amounts in bigint micros, instants in epoch ms.
 */
import type { AccountStatus, BalancePolicy } from "./account.js";
import type { AllocationSource } from "./drain.js";
import type { Outcome, PriceVersion } from "./price.js";
import type { Instant } from "./time.js";
import type { TokenFlexPool } from "./token-flex.js";

export type { AccountStatus, BalancePolicy, AllocationSource, Outcome, PriceVersion, Instant };

export const ROLES = ["OPERATOR", "PARTNER", "METERING", "INTEGRATOR"] as const;
export type Role = (typeof ROLES)[number];

/** "an OPERATOR key", "a PARTNER key": how messages name a key by its role. */
export function keyOfRole(role: Role): string {
  return `${/^[AEIOU]/.test(role) ? "an" : "a"} ${role} key`;
}
export type PartnerTier = "PLATINUM" | "GOLD";
export type SalesChannel = "RESELLER" | "ESTORE";

export interface Reseller {
  readonly id: number;
  readonly name: string;
  readonly tier: PartnerTier;
  readonly flexAgreement: boolean;
  readonly active: boolean;
  readonly locations: readonly string[];
  readonly languages: readonly string[];
  readonly services: readonly string[];
  readonly demo: boolean;
  readonly createdAt: Instant;
  readonly updatedAt: Instant;
}

export interface Account {
  readonly id: number;
  readonly name: string;
  readonly country: string | null;
  readonly resellerId: number | null;
  readonly balancePolicy: BalancePolicy;
  readonly deficitMicros: bigint;
  readonly graceStartedAt: Instant | null;
  readonly demo: boolean;
  readonly createdAt: Instant;
  readonly updatedAt: Instant;
}

export interface CreditLot {
  readonly id: number;
  readonly accountId: number;
  readonly amountMicros: bigint;
  readonly remainingMicros: bigint;
  readonly purchasedAt: Instant;
  readonly expiresAt: Instant;
  readonly externalRef: string;
  readonly createdAt: Instant;
}

export interface FlexPack {
  readonly id: number;
  readonly accountId: number;
  readonly tokensMicros: bigint;
  readonly remainingMicros: bigint;
  readonly purchasedAt: Instant;
  readonly expiresAt: Instant;
  readonly channel: SalesChannel;
  readonly resellerId: number | null;
  readonly orderRef: string;
  readonly unitPrice: string | null;
  readonly currency: string | null;
  readonly createdAt: Instant;
}

/**
 * What a lot or pack holds and when it pays, without how it was bought: all a balance and the
 * drain read of it. Operations that show no more of them read only these columns.
 */
export type LotHolding = Pick<CreditLot, "id" | "accountId" | "amountMicros" | "remainingMicros" | "purchasedAt" | "expiresAt">;
export type PackHolding = Pick<FlexPack, "id" | "accountId" | "tokensMicros" | "remainingMicros" | "purchasedAt" | "expiresAt">;

export interface UsageCharge {
  readonly id: number;
  readonly eventId: string;
  readonly accountId: number;
  readonly apiCode: string;
  readonly priceEntryId: number;
  readonly quantityMicros: bigint;
  readonly outcome: Outcome;
  readonly occurredAt: Instant;
  readonly ratedAt: Instant;
  readonly clientId: string | null;
  readonly labels: Readonly<Record<string, string>>;
  readonly tokensMicros: bigint;
  /** Whole charged units of a FREE or PAID event (domain §8); null for a LEGACY event. */
  readonly units: bigint | null;
  /** When the charge was reversed; null while it stands. */
  readonly reversedAt: Instant | null;
}

export interface ChargeAllocation {
  readonly id: number;
  readonly chargeId: number;
  readonly accountId: number;
  readonly source: AllocationSource;
  readonly creditLotId: number | null;
  readonly tokenFlexPoolId: number | null;
  readonly flexPackId: number | null;
  readonly amountMicros: bigint;
  /** Whole charged units of a FREE_ALLOWANCE, OVERRUN or PAYG part; null otherwise. */
  readonly units: bigint | null;
  readonly occurredAt: Instant;
}

/** A Token Flex pool as stored: the core's pool with its account and when it was booked. */
export interface TokenFlexPoolRecord extends TokenFlexPool {
  readonly accountId: number;
  readonly createdAt: Instant;
}

export interface ApiKey {
  readonly id: number;
  readonly name: string;
  readonly role: Role;
  readonly resellerId: number | null;
  readonly secretPrefix: string;
  readonly createdBy: string;
  readonly createdAt: Instant;
  readonly revokedAt: Instant | null;
}

export interface AuditEntry {
  readonly id: number;
  readonly at: Instant;
  readonly actor: string;
  readonly actorRole: string;
  readonly action: string;
  readonly entityType: string;
  readonly entityId: string;
  readonly before: string | null;
  readonly after: string | null;
}

/** Who is acting: recorded on every change in the audit log. */
export interface Actor {
  readonly name: string;
  readonly role: Role | "SYSTEM";
  readonly keyId: number | null;
  /** The reseller a PARTNER key is bound to. */
  readonly resellerId: number | null;
}

export const SYSTEM_ACTOR: Actor = { name: "system", role: "SYSTEM", keyId: null, resellerId: null };

/** The authenticated caller of a request: its key and the actor recorded on its changes. */
export interface Viewer {
  readonly key: ApiKey;
  readonly actor: Actor;
}
