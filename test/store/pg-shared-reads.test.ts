/**
 * Every request looks its key up. On PostgreSQL, lookups of one key that wait together share one
 * query, and a lookup never takes the answer of a query sent before it arrived: that answer could
 * predate a revocation the request came after. A page's reads are shared per turn, except a
 * unit's, which see what it has not committed.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ApiKey } from "../../server/core/model.js";
import { PgStore } from "../../server/store/pg/store.js";
import { freshDatabase, NO_SERVER, TEST_DATABASE_URL, type TestDatabase } from "../fixtures/postgres.js";

describe.skipIf(!TEST_DATABASE_URL)(`key lookups on PostgreSQL${TEST_DATABASE_URL ? "" : ` (skipped: ${NO_SERVER})`}`, () => {
  let database: TestDatabase;
  /** One pooled connection, so a test decides when lookups get it. */
  let store: PgStore;
  let admin: pg.Client;
  let metering: ApiKey;
  let partner: ApiKey;
  let acquired = 0;

  const newKey = (name: string, revoked = false) =>
    store.write({}, async (tx) => {
      const key = await tx.insertApiKey({ name, role: "METERING", resellerId: null, secretHash: `hash-of-${name}`, secretPrefix: "fg_", createdBy: "test" }, 1);
      return revoked ? tx.markKeyRevoked(key.id, 2) : key;
    });
  const lookup = (name: string) => store.reads.findActiveKeyByHash(`hash-of-${name}`);
  /** Until `count` key lookups wait for the lock `admin` holds: seen from a connection outside that transaction, whose statistics stay as they were. */
  const lookupsWaitingOnLock = async (count = 1) => {
    const watcher = new pg.Client({ connectionString: database.url });
    await watcher.connect();
    try {
      while ((await watcher.query("select 1 from pg_stat_activity where wait_event_type = 'Lock' and query like '%api_keys%'")).rowCount! < count) {
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    } finally {
      await watcher.end();
    }
  };

  beforeAll(async () => {
    database = await freshDatabase("key_lookups");
    store = await PgStore.open({ url: database.url, poolSize: 1 });
    store.pool.on("acquire", () => acquired++);
    metering = await newKey("metering");
    partner = await newKey("partner");
    await newKey("revoked", true);
    admin = new pg.Client({ connectionString: database.url });
    await admin.connect();
  });
  afterAll(async () => {
    await admin?.end();
    await store?.close();
    await database?.drop();
  });

  it("lookups waiting for a connection make one query per key, each answered as its own would be", async () => {
    const held = await store.pool.connect();
    acquired = 0;
    const answers = Promise.all([...Array(5).fill("metering"), "partner", "partner", "revoked", "unknown"].map(lookup));
    held.release();
    expect(await answers).toEqual([metering, metering, metering, metering, metering, partner, partner, null, null]);
    expect(acquired).toBe(4);
  });

  it("lookups arriving while their key's query is on its way wait for it, then go together as the next query, connections to spare or not", async () => {
    const roomy = new PgStore(new pg.Pool({ connectionString: database.url, max: 3 }));
    let queries = 0;
    roomy.pool.on("acquire", () => queries++);
    const find = (name: string) => roomy.reads.findActiveKeyByHash(`hash-of-${name}`);
    try {
      // The table locked, the first lookup's query waits inside the database server.
      await admin.query("begin; lock table api_keys in access exclusive mode");
      const first = find("metering");
      await lookupsWaitingOnLock();
      // One after another, each with time to take a free connection and send a query of its own.
      const later = [];
      for (const name of ["metering", "metering", "metering", "partner"]) {
        later.push(find(name));
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      // The first lookup's query and the other key's own (its connection may take a while to open).
      await lookupsWaitingOnLock(2);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(queries).toBe(2);
      await admin.query("rollback");
      expect(await Promise.all([first, ...later])).toEqual([metering, metering, metering, metering, partner]);
      expect(queries).toBe(3);
    } finally {
      // Ends the lock whatever happened (a rollback outside a transaction only warns).
      await admin.query("rollback");
      await roomy.close();
    }
  });

  it("a lookup that cannot get a connection fails alone: the next one queries afresh", async () => {
    const failing = new PgStore(new pg.Pool({ connectionString: database.url, max: 1 }));
    const held = await failing.pool.connect();
    // Waiting for the pool's one connection, held now, gives up after 50 ms. Set only once it is
    // open: on a busy machine, opening it can take longer than that.
    failing.pool.options.connectionTimeoutMillis = 50;
    try {
      await expect(failing.reads.findActiveKeyByHash("hash-of-metering")).rejects.toThrow(/timeout/i);
    } finally {
      held.release();
    }
    expect(await failing.reads.findActiveKeyByHash("hash-of-metering")).toEqual(metering);
    await failing.close();
  });

  it("a page read inside a unit sees what the unit has not committed; the same read outside it, in the same turn, does not", async () => {
    const roomy = new PgStore(new pg.Pool({ connectionString: database.url, max: 3 }));
    const query = { resellerId: null, limit: 100 };
    try {
      let inserted!: () => void;
      const insertedNow = new Promise<void>((resolve) => (inserted = resolve));
      const outside = insertedNow.then(() => roomy.reads.listAccounts(query));
      const inside = await roomy.write({}, async (tx) => {
        await tx.insertAccount({ name: "Not committed yet", country: "JP", resellerId: null, balancePolicy: "HARD_STOP" }, 1);
        inserted();
        const own = roomy.reads.listAccounts(query);
        // The unit stays open until the read outside it has been answered.
        await outside;
        return own;
      });
      expect(inside.map((account) => account.name)).toContain("Not committed yet");
      expect((await outside).map((account) => account.name)).not.toContain("Not committed yet");
    } finally {
      await roomy.close();
    }
  });
});
