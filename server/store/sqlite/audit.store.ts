import { and, desc, eq, gte, lt, sql } from "drizzle-orm";
import { auditLog } from "../../../schema/tables.js";
import type { Actor, AuditEntry } from "../../core/model.js";
import type { Instant } from "../../core/time.js";
import { type Tx, unplannedLimit } from "./database.js";
import type { AuditFilter, AuditQuery, AuditRecord } from "../port.js";
import { toAuditEntry, toAuditRow } from "../rows.js";

export function appendAudit(tx: Tx, actor: Actor, record: AuditRecord, now: Instant): void {
  tx.insert(auditLog).values(toAuditRow(actor, record, now)).run();
}

const matching = (filter: AuditFilter) =>
  and(
    filter.entityType ? eq(auditLog.entityType, filter.entityType) : undefined,
    filter.actor !== undefined ? eq(auditLog.actor, filter.actor) : undefined,
    filter.from !== undefined ? gte(auditLog.at, filter.from) : undefined,
    filter.to !== undefined ? lt(auditLog.at, filter.to) : undefined,
  );

export function listAudit(tx: Tx, query: AuditQuery): AuditEntry[] {
  return tx
    .select()
    .from(auditLog)
    .where(and(matching(query), query.beforeId ? lt(auditLog.id, query.beforeId) : undefined))
    .orderBy(desc(auditLog.id))
    .limit(unplannedLimit(query.limit))
    .all()
    .map(toAuditEntry);
}

export function countAudit(tx: Tx, filter: AuditFilter | string = {}): number {
  return tx
    .select({ n: sql<number>`count(*)` })
    .from(auditLog)
    .where(matching(typeof filter === "string" ? { entityType: filter } : filter))
    .get()!.n;
}
