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

/** A key's lookups on one pool: the one waiting to be sent, which later lookups join, and the one on its way. */
interface KeyLookups {
  waiting?: Promise<ApiKey | null>;
  onItsWay?: Promise<unknown>;
}

const lookupsOn = new WeakMap<pg.Pool, Map<string, KeyLookups>>();

/**
 * The active key with this hash. On the pool, a key has at most one lookup query on its way: a
 * lookup arriving meanwhile waits for it to come back, and every lookup that arrived in between
 * goes out together as the next query. Every request looks its key up (a revoked key stops at
 * once), and all of a metering pipeline's connections send the same key, so under load there
 * were as many identical round trips as requests. A lookup never takes the answer of a query
 * sent before it arrived: each answer comes from a snapshot taken after every request it serves
 * arrived, as fresh as a query of their own, so a key revoked before a request arrives stops it.
 * The cost is a round trip of waiting for a request that arrives while its key's query is out.
 */
export function findActiveKeyByHash(client: pg.Pool | pg.ClientBase, secretHash: string): Promise<ApiKey | null> {
  if (!(client instanceof pg.Pool)) return queryActiveKey(client, secretHash);
  let byHash = lookupsOn.get(client);
  if (!byHash) lookupsOn.set(client, (byHash = new Map()));
  let lookups = byHash.get(secretHash);
  if (!lookups) byHash.set(secretHash, (lookups = {}));
  return (lookups.waiting ??= nextLookup(client, byHash, secretHash, lookups));
}

async function nextLookup(pool: pg.Pool, byHash: Map<string, KeyLookups>, secretHash: string, lookups: KeyLookups): Promise<ApiKey | null> {
  let query: Promise<ApiKey | null> | undefined;
  try {
    await lookups.onItsWay?.catch(() => undefined);
    const connection = await pool.connect();
    // From here the query is on its way: a lookup arriving now waits for its answer, then goes next.
    query = queryActiveKey(connection, secretHash);
    lookups.waiting = undefined;
    lookups.onItsWay = query;
    try {
      const key = await query;
      connection.release();
      return key;
    } catch (error) {
      // As pool.query does: a connection whose query failed is not reused.
      connection.release(error instanceof Error ? error : true);
      throw error;
    }
  } finally {
    // A lookup that could not get a connection leaves nothing behind for later ones to join.
    if (!query) lookups.waiting = undefined;
    else if (lookups.onItsWay === query) lookups.onItsWay = undefined;
    if (!lookups.waiting && !lookups.onItsWay) byHash.delete(secretHash);
  }
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
