/**
 * Every request looks its key up. On SQLite, lookups of one key made in one turn of the event
 * loop share one read, made once all of them have been asked for; a later turn reads afresh.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ApiKey } from "../../server/core/model.js";
import { SqliteStore } from "../../server/store/sqlite/store.js";

let store: SqliteStore;
let keyReads = 0;
let metering: ApiKey;
let partner: ApiKey;

const newKey = (name: string) =>
  store.write({}, async (tx) => tx.insertApiKey({ name, role: "METERING", resellerId: null, secretHash: `hash-of-${name}`, secretPrefix: "fg_", createdBy: "test" }, 1));
const lookup = (name: string) => store.reads.findActiveKeyByHash(`hash-of-${name}`);
const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

beforeEach(async () => {
  store = SqliteStore.open({ path: ":memory:", onStatement: (sql) => sql.includes('from "api_keys"') && keyReads++ });
  metering = await newKey("metering");
  partner = await newKey("partner");
  const revoked = await newKey("revoked");
  await store.write({}, (tx) => tx.markKeyRevoked(revoked.id, 2));
  keyReads = 0;
});
afterEach(() => store.close());

describe("key lookups on SQLite", () => {
  it("made in one turn, make one read per key, each answered as its own would be", async () => {
    const answers = await Promise.all([...Array(5).fill("metering"), "partner", "partner", "revoked", "unknown"].map(lookup));
    expect(answers).toEqual([metering, metering, metering, metering, metering, partner, partner, null, null]);
    expect(keyReads).toBe(4);
  });

  it("made in turns one after another, read once each", async () => {
    for (let turn = 0; turn < 3; turn++) {
      expect(await lookup("metering")).toEqual(metering);
      await nextTurn();
    }
    expect(keyReads).toBe(3);
  });

  it("read what was committed before them, so a lookup after a revocation finds nothing", async () => {
    expect(await lookup("metering")).toEqual(metering);
    await store.write({}, (tx) => tx.markKeyRevoked(metering.id, 3));
    expect(await lookup("metering")).toBeNull();
  });
});
