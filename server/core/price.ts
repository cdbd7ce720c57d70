import { mulDivHalfUp, MICROS_PER_TOKEN } from "./money.js";
import type { Instant } from "./time.js";

export const METERS = ["SECOND", "JOB", "PHOTO", "CALL", "GIGAPIXEL", "MEGABYTE"] as const;
export type Meter = (typeof METERS)[number];

export const OUTCOMES = ["SUCCEEDED", "FAILED", "CANCELLED"] as const;
export type Outcome = (typeof OUTCOMES)[number];

export type PriceStatus = "SCHEDULED" | "ACTIVE" | "SUPERSEDED" | "CANCELLED";

/** Rates and billing rules of one metered API code from `effectiveFrom` until the next version. */
export interface PriceVersion {
  readonly id: number;
  readonly apiCode: string;
  readonly name: string;
  readonly meter: Meter;
  /** How many meter units the rate is for (3600 seconds, 50 photos, 1 job). */
  readonly unitQuantity: number;
  readonly tokensPerUnitMicros: bigint;
  readonly chargeableOutcomes: readonly Outcome[];
  readonly effectiveFrom: Instant;
  /** A retirement marker: from its effectiveFrom the API has no price, and usage is refused. */
  readonly retired: boolean;
  readonly cancelledAt: Instant | null;
  readonly note: string;
  readonly publishedBy: string;
  readonly publishedAt: Instant;
}

const byEffectiveFrom = (a: PriceVersion, b: PriceVersion) => a.effectiveFrom - b.effectiveFrom || a.id - b.id;

/** The versions of one API that ever take effect, oldest first. */
function liveVersions(versions: readonly PriceVersion[]): PriceVersion[] {
  return versions.filter((version) => version.cancelledAt === null).sort(byEffectiveFrom);
}

/**
 * The version of one API in force at `t`, or null when the API had no price then (before its
 * first version, or after a retirement). `versions` are all versions of that one API code.
 */
export function priceInForce(versions: readonly PriceVersion[], t: Instant): PriceVersion | null {
  let current: PriceVersion | null = null;
  for (const version of liveVersions(versions)) {
    if (version.effectiveFrom > t) break;
    current = version;
  }
  return current && !current.retired ? current : null;
}

/** When a version stops being in force: the next live version's start; null while open-ended. */
export function effectiveTo(version: PriceVersion, versions: readonly PriceVersion[]): Instant | null {
  if (version.cancelledAt !== null) return null;
  const next = liveVersions(versions).find((other) => byEffectiveFrom(other, version) > 0);
  return next ? next.effectiveFrom : null;
}

export function priceStatus(version: PriceVersion, versions: readonly PriceVersion[], now: Instant): PriceStatus {
  if (version.cancelledAt !== null) return "CANCELLED";
  if (version.effectiveFrom > now) return "SCHEDULED";
  const end = effectiveTo(version, versions);
  return end !== null && end <= now ? "SUPERSEDED" : "ACTIVE";
}

/**
 * tokens = quantity × tokensPerUnit ÷ unitQuantity, rounded once, half-up, to one micro-token.
 * An outcome the version does not bill costs nothing.
 */
export function chargeMicros(price: PriceVersion, quantityMicros: bigint, outcome: Outcome): bigint {
  if (!price.chargeableOutcomes.includes(outcome)) return 0n;
  return mulDivHalfUp(quantityMicros, price.tokensPerUnitMicros, BigInt(price.unitQuantity) * MICROS_PER_TOKEN);
}
