import type { AuditEntry } from "../core/model.js";
import { badInput } from "../core/errors.js";
import { type AuditFilter, countAudit, listAudit } from "../store/audit.store.js";
import { type Page, pageSize, type ServiceContext, toPage } from "./context.js";

/** The audit log of every operator and partner change, newest first. */
export class AuditService {
  constructor(private readonly context: ServiceContext) {}

  /**
   * A page of the entries that match: `filter` may be just an entity type, or also an actor and a
   * [from, to) window.
   * @throws FlexgateError BAD_USER_INPUT (to) when the window is empty
   */
  list(first: number | null | undefined, beforeId: number | undefined, filter?: string | null | AuditFilter): Page<AuditEntry> {
    const limit = pageSize(first);
    const where: AuditFilter = typeof filter === "string" ? { entityType: filter } : (filter ?? {});
    if (where.from !== undefined && where.to !== undefined && where.from >= where.to) throw badInput("to", "to must be after from");
    return toPage(listAudit(this.context.db, { ...where, beforeId, limit: limit + 1 }), limit, () => countAudit(this.context.db, where));
  }

  /** Every matching entry, newest first, read a page at a time (for CSV export). */
  *all(filter: AuditFilter = {}): Generator<AuditEntry, void, undefined> {
    let beforeId: number | undefined;
    for (;;) {
      const page = listAudit(this.context.db, { ...filter, beforeId, limit: 500 });
      yield* page;
      if (page.length < 500) return;
      beforeId = Number(page[page.length - 1]!.id);
    }
  }
}
