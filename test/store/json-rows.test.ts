/**
 * A page's many-row reads on SQLite come back as one JSON text of arrays (jsonRowsStatement):
 * every value must arrive exactly as better-sqlite3's raw mode hands it over, for any text a
 * customer or reseller may have typed and for every integer an amount can hold.
 */
import { afterEach, describe, expect, it } from "vitest";
import { accountOfRow, ACCOUNT_COLUMNS, LOT_COLUMNS, lotOfRow, PACK_COLUMNS, packOfRow, POOL_COLUMNS, poolOfRow, soonestFirst } from "../../server/store/array-rows.js";
import * as accounts from "../../server/store/sqlite/accounts.store.js";
import { type Db, jsonRowsStatement, openDatabase, prepared } from "../../server/store/sqlite/database.js";
import * as funding from "../../server/store/sqlite/funding.store.js";
import * as tiered from "../../server/store/sqlite/tiered.store.js";
import { fromDbMicros } from "../../server/store/rows.js";
import { aCreditLot, aFlexPack, anAccount, aReseller, createSqliteHarness, OPERATOR, type SqliteHarness, tokens } from "../fixtures/harness.js";

let db: Db | undefined;
let h: SqliteHarness | undefined;
afterEach(async () => {
  db?.$client.close();
  db = undefined;
  await h?.close();
  h = undefined;
});

const TEXTS = ["", "plain", 'a "quoted" name', "back\\slash", "line\nbreak\ttab", "\u0001\u001f control", "東京 株式会社", "🪙 tokens", "null", "123", "[1]", "\u2028\u2029"];
const INTEGERS = [0, 1, -1, 42, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 1_700_000_000_000];

/** A scratch table holding every kind of value the page reads carry: integers, text and null. */
function scratch(): Db {
  db = openDatabase({ path: ":memory:" });
  db.$client.exec(`create table t ("id" integer primary key, "n" integer, "s" text, "maybe" integer)`);
  const insert = db.$client.prepare(`insert into t ("n", "s", "maybe") values (?, ?, ?)`);
  TEXTS.forEach((text, i) => insert.run(INTEGERS[i % INTEGERS.length], text, i % 2 ? null : i));
  return db;
}

const COLUMNS = `"id", "n", "s", "maybe"`;
const raw = (database: Db, sql: string, ...params: unknown[]) => database.$client.prepare(sql).raw(true).all(...params);

describe("rows as one JSON text", () => {
  it("are the arrays raw mode reads, value for value, whatever the text", () => {
    const database = scratch();
    const fromJson = prepared(database, jsonRowsStatement(COLUMNS, `from t`, `"id"`)).all();
    expect(fromJson).toEqual(raw(database, `select ${COLUMNS} from t order by "id"`));
    expect(fromJson.map((row) => row[2])).toEqual(TEXTS);
    expect(fromJson.some((row) => row[3] === null)).toBe(true);
  });

  it("come in the order asked for, with named parameters bound", () => {
    const database = scratch();
    const statement = prepared(database, jsonRowsStatement(COLUMNS, `from t where "id" > @after`, `"n" desc, "id"`));
    expect(statement.all({ after: 3 })).toEqual(raw(database, `select ${COLUMNS} from t where "id" > ? order by "n" desc, "id"`, 3));
  });

  it("are an empty list when nothing matches", () => {
    const database = scratch();
    expect(prepared(database, jsonRowsStatement(COLUMNS, `from t where "id" < 0`)).all()).toEqual([]);
  });

  it("read an integer beyond 2^53 as the same double raw mode does, which no amount may be", () => {
    const database = scratch();
    database.$client.prepare(`insert into t ("id", "n") values (1000, ?)`).run(2n ** 53n + 1n);
    const [row] = prepared(database, jsonRowsStatement(COLUMNS, `from t where "id" = 1000`)).all();
    const [rawRow] = raw(database, `select ${COLUMNS} from t where "id" = 1000`) as unknown[][];
    expect(row![1]).toBe(rawRow![1]);
    expect(() => fromDbMicros(row![1] as number)).toThrow(RangeError);
  });
});

describe("the portal page's reads", () => {
  it("read accounts, lots, packs and pools as raw mode does", async () => {
    h = await createSqliteHarness({ now: "2024-06-01T00:00:00Z" });
    const reseller = await aReseller(h, { name: 'Reseller "Ōsaka"' });
    const ids: number[] = [];
    for (let i = 0; i < 5; i++) {
      const account = await anAccount(h, { name: `Customer ${i} — 株式会社 "${i}"`, resellerId: reseller.id, country: i % 2 ? null : "JP" });
      ids.push(account.id);
      await aCreditLot(h, account.id, { amount: `${10 + i}.123456` });
      await aFlexPack(h, account.id, { tokens: "100", channel: "RESELLER", resellerId: reseller.id, unitPrice: i % 2 ? null : "1.05", currency: i % 2 ? null : "JPY" });
      await aFlexPack(h, account.id, { tokens: "9000000" });
      await h.services.funding.importTokenFlexPool(
        { accountId: account.id, tokensMicros: tokens("500"), startsAt: h.now() - 86_400_000 * (i + 1), endsAt: h.now() + 86_400_000 * (30 + i), externalRef: `pool-${i}` },
        OPERATOR,
      );
    }
    const file = h.file.db;
    const accountIds = JSON.stringify(ids);
    const rawOf = <T>(columns: string, table: string, map: (row: unknown[]) => T) =>
      (raw(file, `select ${columns} from "${table}" where "account_id" in (select value from json_each(?))`, accountIds) as unknown[][]).map(map);

    expect(accounts.listAccounts(file, { resellerId: reseller.id, afterId: ids[0], limit: 3 })).toEqual(
      (raw(file, `select ${ACCOUNT_COLUMNS} from "accounts" where "reseller_id" = ? and "id" > ? order by "id" limit 3`, reseller.id, ids[0]) as unknown[][]).map(accountOfRow),
    );
    expect(funding.creditLotsOf(file, ids)).toEqual(soonestFirst(rawOf(LOT_COLUMNS, "credit_lots", lotOfRow), (lot) => lot.expiresAt));
    expect(funding.flexPacksOf(file, ids)).toEqual(soonestFirst(rawOf(PACK_COLUMNS, "flex_packs", packOfRow), (pack) => pack.expiresAt));
    expect(tiered.tokenFlexPoolsOf(file, ids)).toEqual(soonestFirst(rawOf(POOL_COLUMNS, "token_flex_pools", poolOfRow), (pool) => pool.endsAt));
    expect(funding.flexPacksOf(file, ids)).toHaveLength(10);
  });
});
