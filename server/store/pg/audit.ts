import { and, desc, gte, lt, sql } from "drizzle-orm";
import { auditLog } from "../../../schema/tables.pg.js";
import type { Actor, AuditEntry } from "../../core/model.js";
import type { Instant } from "../../core/time.js";
import type { AuditFilter, AuditQuery, AuditRecord } from "../port.js";
import { toAuditEntry, toAuditRow } from "../rows.js";
import { type Q, textEquals } from "./database.js";

export async function appendAudit(q: Q, actor: Actor, record: AuditRecord, now: Instant): Promise<void> {
  await q.insert(auditLog).values(toAuditRow(actor, record, now));
}

const matching = (filter: AuditFilter) =>
  and(
    filter.entityType ? textEquals(auditLog.entityType, filter.entityType) : undefined,
    filter.actor !== undefined ? textEquals(auditLog.actor, filter.actor) : undefined,
    filter.from !== undefined ? gte(auditLog.at, filter.from) : undefined,
    filter.to !== undefined ? lt(auditLog.at, filter.to) : undefined,
  );

export async function listAudit(q: Q, query: AuditQuery): Promise<AuditEntry[]> {
  const rows = await q
    .select()
    .from(auditLog)
    .where(and(matching(query), query.beforeId ? lt(auditLog.id, query.beforeId) : undefined))
    .orderBy(desc(auditLog.id))
    .limit(query.limit);
  return rows.map(toAuditEntry);
}

export async function countAudit(q: Q, filter: AuditFilter = {}): Promise<number> {
  const [row] = await q.select({ n: sql<number>`count(*)` }).from(auditLog).where(matching(filter));
  return Number(row!.n);
}
