import { and, asc, eq, isNull, sql } from "drizzle-orm";
import { apiKeys } from "../../../schema/tables.pg.js";
import type { ApiKey } from "../../core/model.js";
import type { Instant } from "../../core/time.js";
import type { NewApiKey } from "../port.js";
import { toApiKey } from "../rows.js";
import pg from "pg";
import type { Q } from "./database.js";

export async function insertApiKey(q: Q, key: NewApiKey, now: Instant): Promise<ApiKey> {
  const [row] = await q.insert(apiKeys).values({ ...key, createdAt: now }).returning();
  return toApiKey(row!);
}

export async function findApiKey(q: Q, id: number): Promise<ApiKey | null> {
  const [row] = await q.select().from(apiKeys).where(eq(apiKeys.id, id));
  return row ? toApiKey(row) : null;
}

/**
 * Runs on every API request, so it skips drizzle: a constant text, prepared once per connection.
 * The secret's hash is not read back; the key never shows it.
 */
const ACTIVE_KEY_BY_HASH = {
  name: "flexgate_active_key",
  text: `select id, name, role, reseller_id as "resellerId", secret_prefix as "secretPrefix", created_by as "createdBy",
      created_at as "createdAt", revoked_at as "revokedAt"
    from "api_keys" where secret_hash = $1 and revoked_at is null`,
} as const;

async function queryActiveKey(client: pg.ClientBase, secretHash: string): Promise<ApiKey | null> {
  const { rows } = await client.query<ApiKey>({ ...ACTIVE_KEY_BY_HASH, values: [secretHash] });
  return rows[0] ?? null;
}

/** Per pool: the lookup of each key hash that waits for a connection, its query not yet sent. */
const waitingLookups = new WeakMap<pg.Pool, Map<string, Promise<ApiKey | null>>>();

/**
 * The active key with this hash. On the pool, lookups of one key that wait together for a
 * connection share one query: every request looks its key up, all of a metering pipeline's
 * connections send the same key, and under load most lookups queue for a pooled connection
 * behind the rating groups, so they went out as many identical round trips. A lookup joins one
 * whose query has not been sent yet, never one already sent: the answer it shares comes from a
 * snapshot taken after both requests arrived, as fresh as a query of its own, so a key revoked
 * before a request arrives still stops it.
 */
export function findActiveKeyByHash(client: pg.Pool | pg.ClientBase, secretHash: string): Promise<ApiKey | null> {
  if (!(client instanceof pg.Pool)) return queryActiveKey(client, secretHash);
  let waiting = waitingLookups.get(client);
  if (!waiting) waitingLookups.set(client, (waiting = new Map()));
  const joined = waiting.get(secretHash);
  if (joined) return joined;
  const pool = client;
  const lookup = (async () => {
    // From the moment a connection is in hand the query is on its way: later lookups start their own.
    const connection = await pool.connect().finally(() => waiting.delete(secretHash));
    try {
      const key = await queryActiveKey(connection, secretHash);
      connection.release();
      return key;
    } catch (error) {
      // As pool.query does: a connection whose query failed is not reused.
      connection.release(error instanceof Error ? error : true);
      throw error;
    }
  })();
  waiting.set(secretHash, lookup);
  return lookup;
}

/** The key a secret belongs to, revoked or not: a revoked key's secret must never be registered again. */
export async function findKeyByHash(q: Q, secretHash: string): Promise<ApiKey | null> {
  const [row] = await q.select().from(apiKeys).where(eq(apiKeys.secretHash, secretHash));
  return row ? toApiKey(row) : null;
}

export async function markKeyRevoked(q: Q, id: number, now: Instant): Promise<ApiKey> {
  const [row] = await q.update(apiKeys).set({ revokedAt: now }).where(eq(apiKeys.id, id)).returning();
  return toApiKey(row!);
}

export async function countActiveOperatorKeys(q: Q): Promise<number> {
  const [row] = await q
    .select({ n: sql<number>`count(*)` })
    .from(apiKeys)
    .where(and(eq(apiKeys.role, "OPERATOR"), isNull(apiKeys.revokedAt)));
  return Number(row!.n);
}

export async function listApiKeys(q: Q): Promise<ApiKey[]> {
  return (await q.select().from(apiKeys).orderBy(asc(apiKeys.id))).map(toApiKey);
}
