import type { Allocation } from "../core/drain.js";
import type { ChargeAllocation, UsageCharge } from "../core/model.js";
import { countCharges, listCharges, allocationsOfCharges, findCharge, type ChargeOrder, type ChargeQuery } from "../store/ledger.store.js";
import { inTransaction } from "../store/database.js";
import { type Page, pageSize, type ServiceContext, toPage } from "./context.js";
import { groupBy } from "./accounts.service.js";
import { recomputeLedger, type LedgerDrift } from "../store/recompute.store.js";

export type ChargeFilter = Omit<ChargeQuery, "accountId" | "order" | "after" | "limit">;

/** Reads of the ledger: charges, their receipts, and the consistency check. */
export class LedgerService {
  constructor(private readonly context: ServiceContext) {}

  findCharge(id: number): UsageCharge | null {
    return findCharge(this.context.db, id);
  }

  /**
   * Charges of an account in `order` (default: the newest usage first), the page starting after
   * the charge whose sort key (chargeSortKey) is `after`.
   */
  charges(
    accountId: number,
    filter: ChargeFilter,
    first: number | null | undefined,
    after: readonly number[] | undefined,
    order: ChargeOrder = "OCCURRED_AT_DESC",
  ): Page<UsageCharge> {
    const limit = pageSize(first);
    return inTransaction(this.context.db, "deferred", (tx) =>
      toPage(
        listCharges(tx, { ...filter, accountId, order, after, limit: limit + 1 }),
        limit,
        countCharges(tx, { ...filter, accountId }),
      ),
    );
  }

  allocations(chargeIds: readonly number[]): Map<number, ChargeAllocation[]> {
    return groupBy(allocationsOfCharges(this.context.db, chargeIds), (allocation) => allocation.chargeId);
  }

  /**
   * Recomputes every remaining amount and deficit from the append-only ledger and lists where
   * the stored figures differ. Empty means the books balance.
   */
  verify(): LedgerDrift[] {
    return inTransaction(this.context.db, "deferred", (tx) => recomputeLedger(tx));
  }
}

export type { Allocation, LedgerDrift };
