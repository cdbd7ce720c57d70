import type { PriceVersion } from "../core/price.js";
import type { Tx } from "../store/database.js";
import { allPriceVersions, priceTableStamp } from "../store/prices.store.js";

/**
 * The price table held in memory for rating. Every read checks the table's stamp (two lookups
 * on append-only tables), so a publish by this process or another one is seen at once.
 */
export class PriceBook {
  private stamp = "";
  private byCode = new Map<string, PriceVersion[]>();

  /** Every version of every API code, grouped by code, oldest first. */
  all(tx: Tx): ReadonlyMap<string, readonly PriceVersion[]> {
    const stamp = priceTableStamp(tx);
    if (stamp !== this.stamp) {
      const byCode = new Map<string, PriceVersion[]>();
      for (const version of allPriceVersions(tx)) {
        const versions = byCode.get(version.apiCode);
        if (versions) versions.push(version);
        else byCode.set(version.apiCode, [version]);
      }
      this.byCode = byCode;
      this.stamp = stamp;
    }
    return this.byCode;
  }

  versionsOf(tx: Tx, apiCode: string): readonly PriceVersion[] {
    return this.all(tx).get(apiCode) ?? [];
  }
}
