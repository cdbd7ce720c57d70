import type { Config } from "../config.js";
import type { Store } from "./port.js";
import { SqliteStore } from "./sqlite/store.js";

export type StoreConfig = Pick<Config, "dbPath" | "synchronous" | "databaseUrl"> & Partial<Pick<Config, "readThreads" | "ratingThread" | "databasePool">>;

/**
 * Opens the configured engine and applies pending migrations: FLEXGATE_DATABASE_URL selects
 * PostgreSQL, otherwise the SQLite file FLEXGATE_DB (created when missing) serves alone.
 */
export async function openStore(config: StoreConfig): Promise<Store> {
  if (config.databaseUrl !== null) {
    // Loaded only when chosen: node-postgres, drizzle's PostgreSQL dialect and our PostgreSQL
    // store held about 7 MB of an idle SQLite server's memory for nothing, 15 MB at B5's peak.
    const { PgStore } = await import("./pg/store.js");
    return PgStore.open({ url: config.databaseUrl, poolSize: config.databasePool });
  }
  const store = SqliteStore.open({ path: config.dbPath, synchronous: config.synchronous, readThreads: config.readThreads, ratingThread: config.ratingThread });
  await store.ready();
  return store;
}

/** Applies pending migrations to the configured engine and closes it again (`flexgate migrate`). */
export async function migrateStore(config: StoreConfig): Promise<void> {
  if (config.databaseUrl !== null) {
    const { migratePostgres, openPool } = await import("./pg/database.js");
    const pool = openPool(config.databaseUrl, 1);
    try {
      await migratePostgres(pool);
    } finally {
      await pool.end();
    }
    return;
  }
  await (await openStore({ ...config, readThreads: 0, ratingThread: false })).close();
}
