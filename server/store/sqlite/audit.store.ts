import { and, desc, eq, lt, sql } from "drizzle-orm";
import { auditLog } from "../../../schema/tables.js";
import type { Actor, AuditEntry } from "../../core/model.js";
import type { Instant } from "../../core/time.js";
import type { Tx } from "./database.js";
import type { AuditQuery, AuditRecord } from "../port.js";
import { toAuditEntry } from "./rows.js";

/** Snapshots are JSON; bigint amounts are written as exact decimal micro strings. */
function snapshot(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  return JSON.stringify(value, (_key, item: unknown) => (typeof item === "bigint" ? item.toString() : item));
}

export function appendAudit(tx: Tx, actor: Actor, record: AuditRecord, now: Instant): void {
  tx.insert(auditLog)
    .values({
      at: now,
      actor: actor.name,
      actorRole: actor.role,
      action: record.action,
      entityType: record.entityType,
      entityId: String(record.entityId),
      before: snapshot(record.before),
      after: snapshot(record.after),
    })
    .run();
}

export function listAudit(tx: Tx, query: AuditQuery): AuditEntry[] {
  return tx
    .select()
    .from(auditLog)
    .where(
      and(
        query.entityType ? eq(auditLog.entityType, query.entityType) : undefined,
        query.beforeId ? lt(auditLog.id, query.beforeId) : undefined,
      ),
    )
    .orderBy(desc(auditLog.id))
    .limit(query.limit)
    .all()
    .map(toAuditEntry);
}

export function countAudit(tx: Tx, entityType?: string): number {
  return tx
    .select({ n: sql<number>`count(*)` })
    .from(auditLog)
    .where(entityType ? eq(auditLog.entityType, entityType) : undefined)
    .get()!.n;
}
