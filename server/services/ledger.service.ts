import type { Allocation } from "../core/drain.js";
import type { ChargeAllocation, UsageCharge } from "../core/model.js";
import type { ChargeOrder, ChargeQuery, LedgerDrift } from "../store/port.js";
import { type Page, pageSize, type ServiceContext, toPage } from "./context.js";
import { groupBy } from "./accounts.service.js";

export type ChargeFilter = Omit<ChargeQuery, "accountId" | "order" | "after" | "limit">;

/** Reads of the ledger: charges, their receipts, and the consistency check. */
export class LedgerService {
  constructor(private readonly context: ServiceContext) {}

  findCharge(id: number): Promise<UsageCharge | null> {
    return this.context.store.reads.findCharge(id);
  }

  /**
   * Charges of an account in `order` (default: the newest usage first), the page starting after
   * the charge whose sort key (chargeSortKey) is `after`.
   */
  async charges(
    accountId: number,
    filter: ChargeFilter,
    first: number | null | undefined,
    after: readonly number[] | undefined,
    order: ChargeOrder = "OCCURRED_AT_DESC",
  ): Promise<Page<UsageCharge>> {
    const limit = pageSize(first);
    return this.context.store.snapshot(async (reads) =>
      toPage(
        await reads.listCharges({ ...filter, accountId, order, after, limit: limit + 1 }),
        limit,
        await reads.countCharges({ ...filter, accountId }),
      ),
    );
  }

  async allocations(chargeIds: readonly number[]): Promise<Map<number, ChargeAllocation[]>> {
    return groupBy(await this.context.store.reads.allocationsOfCharges(chargeIds), (allocation) => allocation.chargeId);
  }

  /**
   * Recomputes every remaining amount and deficit from the append-only ledger and lists where
   * the stored figures differ. Empty means the books balance.
   */
  verify(): Promise<LedgerDrift[]> {
    return this.context.store.snapshot((reads) => reads.recomputeLedger(), { heavy: true });
  }
}

export type { Allocation, LedgerDrift };
