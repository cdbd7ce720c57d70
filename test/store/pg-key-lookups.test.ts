/**
 * Every request looks its key up. On PostgreSQL, lookups of one key that wait together for a
 * pooled connection share one query, and a lookup never takes the answer of a query sent before
 * it started: that answer could predate a revocation the request came after.
 */
import pg from "pg";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
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
  beforeEach(() => {
    acquired = 0;
  });

  it("lookups waiting for a connection make one query per key, each answered as its own would be", async () => {
    const held = await store.pool.connect();
    acquired = 0;
    const answers = Promise.all([...Array(5).fill("metering"), "partner", "partner", "revoked", "unknown"].map(lookup));
    held.release();
    expect(await answers).toEqual([metering, metering, metering, metering, metering, partner, partner, null, null]);
    expect(acquired).toBe(4);
  });

  it("a lookup that starts once another's query is on its way makes its own query", async () => {
    // The table locked, the first lookup's query waits inside the database server.
    await admin.query("begin; lock table api_keys in access exclusive mode");
    const first = lookup("metering");
    while ((await admin.query("select 1 from pg_stat_activity where wait_event_type = 'Lock' and query like '%api_keys%'")).rowCount === 0) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const second = lookup("metering");
    await admin.query("rollback");
    expect(await Promise.all([first, second])).toEqual([metering, metering]);
    expect(acquired).toBe(2);
  });
});
