/**
 * Builders for the pure core tests: values with sensible defaults and overrides, no database.
 */
import type { FundingSource } from "../../server/core/drain.js";
import { parseMicros } from "../../server/core/money.js";
import type { PriceVersion } from "../../server/core/price.js";
import { addOneYear } from "../../server/core/time.js";

export const utc = (iso: string) => Date.parse(iso.length === 10 ? `${iso}T00:00:00Z` : iso);
export const tokens = (text: string) => parseMicros(text, "test");

interface SourceOverrides {
  readonly id: number;
  readonly tokens?: string;
  readonly remaining?: string;
  readonly purchasedAt?: string;
  readonly expiresAt?: string;
}

function aSource(kind: FundingSource["kind"], overrides: SourceOverrides): FundingSource {
  const size = tokens(overrides.tokens ?? "100");
  const purchasedAt = utc(overrides.purchasedAt ?? "2023-01-01");
  return {
    kind,
    id: overrides.id,
    sizeMicros: size,
    remainingMicros: overrides.remaining === undefined ? size : tokens(overrides.remaining),
    purchasedAt,
    expiresAt: overrides.expiresAt === undefined ? addOneYear(purchasedAt) : utc(overrides.expiresAt),
  };
}

export const aLot = (overrides: SourceOverrides) => aSource("CREDIT_LOT", overrides);
export const aPack = (overrides: SourceOverrides) => aSource("FLEX_PACK", overrides);

let versionId = 0;

export function aPriceVersion(overrides: Partial<Omit<PriceVersion, "effectiveFrom" | "tokensPerUnitMicros">> & { effectiveFrom?: string; rate?: string } = {}): PriceVersion {
  const { effectiveFrom = "2022-03-29", rate = "1", ...rest } = overrides;
  return {
    id: ++versionId,
    apiCode: "model-derivative/complex-job",
    name: "Model Derivative complex job",
    meter: "JOB",
    unitQuantity: 1,
    tokensPerUnitMicros: tokens(rate),
    chargeableOutcomes: ["SUCCEEDED"],
    effectiveFrom: utc(effectiveFrom),
    retired: false,
    cancelledAt: null,
    note: "test",
    publishedBy: "test",
    publishedAt: utc(effectiveFrom),
    ...rest,
  };
}
