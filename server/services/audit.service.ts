import { badInput } from "../core/errors.js";
import type { AuditEntry } from "../core/model.js";
import type { AuditFilter } from "../store/port.js";
import { type Page, pageSize, type ServiceContext, toPage } from "./context.js";

/** The audit log of every operator and partner change, newest first. */
export class AuditService {
  constructor(private readonly context: ServiceContext) {}

  /**
   * A page of the entries that match: `filter` may be just an entity type, or also an actor and a
   * [from, to) window.
   * @throws FlexgateError BAD_USER_INPUT (to) when the window is empty
   */
  async list(first: number | null | undefined, beforeId: number | undefined, filter?: string | null | AuditFilter): Promise<Page<AuditEntry>> {
    const limit = pageSize(first);
    const where: AuditFilter = typeof filter === "string" ? { entityType: filter } : (filter ?? {});
    if (where.from !== undefined && where.to !== undefined && where.from >= where.to) throw badInput("to", "to must be after from");
    const { reads } = this.context.store;
    return toPage(await reads.listAudit({ ...where, beforeId, limit: limit + 1 }), limit, () => reads.countAudit(where));
  }

  /** Every matching entry, newest first, read a page at a time (for CSV export). */
  async *all(filter: AuditFilter = {}): AsyncGenerator<AuditEntry, void, undefined> {
    let beforeId: number | undefined;
    for (;;) {
      const page = await this.context.store.reads.listAudit({ ...filter, beforeId, limit: 500 });
      yield* page;
      if (page.length < 500) return;
      beforeId = Number(page[page.length - 1]!.id);
    }
  }
}
