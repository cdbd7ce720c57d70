import type { PriceVersion } from "../core/price.js";
import type { PriceTable } from "./port.js";

/**
 * The price table held in memory for rating. Every read checks the table's change stamp first,
 * so a publish by this process or another one is seen at once; the versions are read again only
 * when the stamp moved.
 */
export class PriceBook {
  private stamp: string | null = null;
  private table: PriceTable = new Map();

  /** The table as last read, when `stamp` is still the table's stamp. */
  current(stamp: string): PriceTable | null {
    return stamp === this.stamp ? this.table : null;
  }

  /** Holds the versions read under `stamp`, grouped by API code (they arrive oldest first). */
  update(stamp: string, versions: readonly PriceVersion[]): PriceTable {
    const byCode = new Map<string, PriceVersion[]>();
    for (const version of versions) {
      const ofCode = byCode.get(version.apiCode);
      if (ofCode) ofCode.push(version);
      else byCode.set(version.apiCode, [version]);
    }
    this.table = byCode;
    this.stamp = stamp;
    return byCode;
  }
}
