/**
 * On SQLite, the reads many clients make at once with the same arguments (every request's key
 * lookup, the reads of a portal's account page) are shared by the calls made in one turn of the
 * event loop: one read, made once all of them have been asked for; a later turn reads afresh.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ApiKey } from "../../server/core/model.js";
import type { StoreWrites } from "../../server/store/port.js";
import { SqliteStore } from "../../server/store/sqlite/store.js";

let store: SqliteStore;
let keyReads = 0;
let pageReads = 0;
let metering: ApiKey;
let partner: ApiKey;
let resellers: [number, number];

const newKey = (name: string) =>
  store.write({}, async (tx) => tx.insertApiKey({ name, role: "METERING", resellerId: null, secretHash: `hash-of-${name}`, secretPrefix: "fg_", createdBy: "test" }, 1));
const newAccountIn = (tx: StoreWrites, name: string, resellerId = resellers[0]) =>
  tx.insertAccount({ name, country: "JP", resellerId, balancePolicy: "HARD_STOP" }, 1);
const newAccount = (name: string, resellerId: number) => store.write({}, (tx) => newAccountIn(tx, name, resellerId));
const page = (resellerId: number) => store.reads.listAccounts({ resellerId, limit: 10 });
const lookup = (name: string) => store.reads.findActiveKeyByHash(`hash-of-${name}`);
const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

beforeEach(async () => {
  store = SqliteStore.open({
    path: ":memory:",
    onStatement: (sql) => {
      if (sql.includes('from "api_keys"')) keyReads++;
      if (sql.includes('from "accounts"')) pageReads++;
    },
  });
  metering = await newKey("metering");
  partner = await newKey("partner");
  const revoked = await newKey("revoked");
  await store.write({}, (tx) => tx.markKeyRevoked(revoked.id, 2));
  const newReseller = (name: string) =>
    store.write({}, (tx) => tx.insertReseller({ name, tier: "GOLD", flexAgreement: true, active: true, locations: [], languages: [], services: [] }, 1));
  resellers = [(await newReseller("Reseller A")).id, (await newReseller("Reseller B")).id];
  for (const [i, resellerId] of [...resellers, ...resellers].entries()) await newAccount(`Customer ${i}`, resellerId);
  keyReads = 0;
  pageReads = 0;
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

describe("a portal page's reads on SQLite", () => {
  it("made in one turn with the same arguments, make one read, and each reseller's page its own", async () => {
    const [first, second, other] = await Promise.all([page(resellers[0]), page(resellers[0]), page(resellers[1])]);
    expect(pageReads).toBe(2);
    expect(second).toEqual(first);
    expect(first.map((account) => account.resellerId)).toEqual([resellers[0], resellers[0]]);
    expect(other.map((account) => account.resellerId)).toEqual([resellers[1], resellers[1]]);
  });

  it("share a result no caller can change under another", async () => {
    const [first, second] = await Promise.all([page(resellers[0]), page(resellers[0])]);
    expect(() => first.pop()).toThrow(TypeError);
    expect(second).toHaveLength(2);
  });

  it("inside a unit, see what it has not committed, and share nothing with the same read outside it", async () => {
    let inserted!: () => void;
    const insertedNow = new Promise<void>((resolve) => (inserted = resolve));
    // Asked for in the same turn as the unit's own read, while the unit is open.
    const outside = insertedNow.then(() => page(resellers[0]));
    let inside: readonly { name: string }[] = [];
    const rolledBack = store.write({}, async (tx) => {
      await newAccountIn(tx, "Never committed");
      inserted();
      inside = await page(resellers[0]);
      throw new Error("rolled back");
    });
    await expect(rolledBack).rejects.toThrow("rolled back");
    expect(inside.map((account) => account.name)).toContain("Never committed");
    expect((await outside).map((account) => account.name)).not.toContain("Never committed");
  });

  it("read what was committed before them: an account added after one page is on the next", async () => {
    expect(await page(resellers[0])).toHaveLength(2);
    await newAccount("Newcomer", resellers[0]);
    expect((await page(resellers[0])).map((account) => account.name)).toContain("Newcomer");
  });
});
