import type { FreeCap } from "../core/free-allowance.js";
import type { PriceVersion } from "../core/price.js";
import type { PriceTable } from "./port.js";

/** What rating reads of the published terms: every price version and every free cap. */
export interface PublishedTerms {
  readonly prices: PriceTable;
  readonly caps: readonly FreeCap[];
}

/**
 * The price table and the free caps held in memory for rating. Every read checks their common
 * change stamp first, so a publish by this process or another one is seen at once; the versions
 * and caps are read again only when the stamp moved.
 */
export class PriceBook {
  private stamp: string | null = null;
  private terms: PublishedTerms = { prices: new Map(), caps: [] };

  /** The terms as last read, when `stamp` is still their stamp. */
  current(stamp: string): PublishedTerms | null {
    return stamp === this.stamp ? this.terms : null;
  }

  /** Holds the versions and caps read under `stamp`, versions grouped by API code (they arrive oldest first). */
  update(stamp: string, versions: readonly PriceVersion[], caps: readonly FreeCap[]): PublishedTerms {
    const byCode = new Map<string, PriceVersion[]>();
    for (const version of versions) {
      const ofCode = byCode.get(version.apiCode);
      if (ofCode) ofCode.push(version);
      else byCode.set(version.apiCode, [version]);
    }
    this.terms = { prices: byCode, caps };
    this.stamp = stamp;
    return this.terms;
  }
}
