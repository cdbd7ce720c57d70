import { and, eq, isNull, sql } from "drizzle-orm";
import { apiKeys } from "../../../schema/tables.js";
import type { ApiKey } from "../../core/model.js";
import type { Instant } from "../../core/time.js";
import { columnsOf, prepared, rowsStatement, type Tx } from "./database.js";
import type { NewApiKey } from "../port.js";
import { toApiKey } from "../rows.js";

export function insertApiKey(tx: Tx, key: NewApiKey, now: Instant): ApiKey {
  return toApiKey(tx.insert(apiKeys).values({ ...key, createdAt: now }).returning().get());
}

export function findApiKey(tx: Tx, id: number): ApiKey | null {
  const row = tx.select().from(apiKeys).where(eq(apiKeys.id, id)).get();
  return row ? toApiKey(row) : null;
}

const key = columnsOf(apiKeys, ["secretHash"]);
const activeKeyByHash = rowsStatement(`select ${key.list} from "api_keys" where "api_keys"."secret_hash" = @secretHash and "api_keys"."revoked_at" is null`);

/** Runs on every API request, so its statement is prepared once. */
export function findActiveKeyByHash(tx: Tx, secretHash: string): ApiKey | null {
  const row = prepared(tx, activeKeyByHash).get({ secretHash });
  return row ? toApiKey(key.read(row)) : null;
}

/** The key a secret belongs to, revoked or not: a revoked key's secret must never be registered again. */
export function findKeyByHash(tx: Tx, secretHash: string): ApiKey | null {
  const row = tx.select().from(apiKeys).where(eq(apiKeys.secretHash, secretHash)).get();
  return row ? toApiKey(row) : null;
}

export function markKeyRevoked(tx: Tx, id: number, now: Instant): ApiKey {
  return toApiKey(tx.update(apiKeys).set({ revokedAt: now }).where(eq(apiKeys.id, id)).returning().get()!);
}

export function countActiveOperatorKeys(tx: Tx): number {
  return tx
    .select({ n: sql<number>`count(*)` })
    .from(apiKeys)
    .where(and(eq(apiKeys.role, "OPERATOR"), isNull(apiKeys.revokedAt)))
    .get()!.n;
}

export function listApiKeys(tx: Tx): ApiKey[] {
  return tx.select().from(apiKeys).orderBy(apiKeys.id).all().map(toApiKey);
}
