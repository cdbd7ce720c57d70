import type { AuditEntry } from "../core/model.js";
import { type Page, pageSize, type ServiceContext, toPage } from "./context.js";

/** The audit log of every operator and partner change, newest first. */
export class AuditService {
  constructor(private readonly context: ServiceContext) {}

  async list(first: number | null | undefined, beforeId: number | undefined, entityType?: string | null): Promise<Page<AuditEntry>> {
    const limit = pageSize(first);
    const { reads } = this.context.store;
    return toPage(
      await reads.listAudit({ entityType: entityType ?? undefined, beforeId, limit: limit + 1 }),
      limit,
      () => reads.countAudit(entityType ?? undefined),
    );
  }
}
