/**
 * Transactions on PostgreSQL, owned by the store rather than by drizzle: a unit holds its pooled
 * connection itself, so the rating path can speak to node-postgres directly (hand-written,
 * prepared statements, BEGIN sent in the same round trip as the first statement), while every
 * other store function keeps running through drizzle on the same connection.
 */
import { drizzle } from "drizzle-orm/node-postgres";
import type pg from "pg";
import { schemaTables } from "../../../schema/tables.pg.js";
import type { Q } from "./database.js";

/** Where a statement runs: drizzle for the store's functions, and the driver under it for hand-written SQL. */
export interface Conn {
  readonly q: Q;
  /** The pool (any connection) outside a unit; the unit's own connection inside one. */
  readonly client: pg.Pool | pg.ClientBase;
}

/** A transaction that is running, with its connection. */
export interface Unit extends Conn {
  readonly client: pg.PoolClient;
  /** Savepoints open inside it: work that joins the unit runs in one, as drizzle's nested transactions did. */
  depth: number;
  /** Set by work that sent its own `commit` (with its last statement, in one round trip). */
  committed: boolean;
}

/** drizzle over each pooled connection, made once: building one reads the whole schema. */
const drizzleOf = new WeakMap<pg.PoolClient, Q>();

function unitOn(client: pg.PoolClient): Unit {
  let q = drizzleOf.get(client);
  if (!q) drizzleOf.set(client, (q = drizzle({ client, schema: schemaTables })));
  return { q, client, depth: 0, committed: false };
}

/**
 * Runs `work` in a transaction on a pooled connection and commits it. `work` opens the
 * transaction with its first statement (`begin`, alone or sent together with what follows it);
 * whatever it throws rolls the transaction back. A connection that cannot even roll back is
 * broken, and goes back to the pool to be destroyed rather than reused.
 */
export async function inTransaction<T>(pool: pg.Pool, work: (unit: Unit) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    const unit = unitOn(client);
    const result = await work(unit);
    if (!unit.committed) await client.query("commit");
    return result;
  } catch (error) {
    try {
      await client.query("rollback");
    } catch (failed) {
      broken = failed instanceof Error ? failed : new Error(String(failed));
    }
    throw error;
  } finally {
    client.release(broken);
  }
}

/** Runs `work` inside a running unit, in a savepoint: what it throws undoes only its own writes. */
export async function inSavepoint<T>(unit: Unit, work: () => Promise<T>): Promise<T> {
  const name = `flexgate_${++unit.depth}`;
  try {
    await unit.client.query(`savepoint ${name}`);
    try {
      const result = await work();
      await unit.client.query(`release savepoint ${name}`);
      return result;
    } catch (error) {
      await unit.client.query(`rollback to savepoint ${name}`);
      throw error;
    }
  } finally {
    unit.depth--;
  }
}
