import type { FundingSource } from "../core/drain.js";
import type { LotHolding, PackHolding } from "../core/model.js";

/** A lot as the drain sees it. */
export const lotAsSource = (lot: LotHolding): FundingSource => ({
  kind: "CREDIT_LOT",
  id: lot.id,
  sizeMicros: lot.amountMicros,
  remainingMicros: lot.remainingMicros,
  purchasedAt: lot.purchasedAt,
  expiresAt: lot.expiresAt,
});

/** A pack as the drain sees it. */
export const packAsSource = (pack: PackHolding): FundingSource => ({
  kind: "FLEX_PACK",
  id: pack.id,
  sizeMicros: pack.tokensMicros,
  remainingMicros: pack.remainingMicros,
  purchasedAt: pack.purchasedAt,
  expiresAt: pack.expiresAt,
});

export { poolAsSource } from "../core/token-flex.js";
