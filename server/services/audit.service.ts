import type { AuditEntry } from "../core/model.js";
import { countAudit, listAudit } from "../store/audit.store.js";
import { type Page, pageSize, type ServiceContext, toPage } from "./context.js";

/** The audit log of every operator and partner change, newest first. */
export class AuditService {
  constructor(private readonly context: ServiceContext) {}

  list(first: number | null | undefined, beforeId: number | undefined, entityType?: string | null): Page<AuditEntry> {
    const limit = pageSize(first);
    return toPage(
      listAudit(this.context.db, { entityType: entityType ?? undefined, beforeId, limit: limit + 1 }),
      limit,
      () => countAudit(this.context.db, entityType ?? undefined),
    );
  }
}
