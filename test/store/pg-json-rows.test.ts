/**
 * A page's many-row reads on PostgreSQL come back as one JSON array of arrays (jsonRows): every
 * value must arrive exactly as node-postgres's array rows hand it over, for any text a customer
 * or reseller may have typed and for every integer an amount can hold, and none rounded.
 */
import { drizzle } from "drizzle-orm/node-postgres";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { arrayRows, jsonRows, openPool, type Q } from "../../server/store/pg/database.js";
import { freshDatabase, NO_SERVER, TEST_DATABASE_URL, type TestDatabase } from "../fixtures/postgres.js";

const TEXTS = ["", "plain", 'a "quoted" name', "back\\slash", "line\nbreak\ttab", "\u0001\u001f control", "東京 株式会社", "🪙 tokens", "null", "123", "[1]", "\u2028\u2029"];
const INTEGERS = [0, 1, -1, 42, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 1_700_000_000_000];
const COLUMNS = `"id", "n", "s", "maybe", "flag"`;

describe.skipIf(!TEST_DATABASE_URL)(`rows as one JSON value on PostgreSQL${TEST_DATABASE_URL ? "" : ` (skipped: ${NO_SERVER})`}`, () => {
  let database: TestDatabase;
  let pool: pg.Pool;
  let q: Q;

  beforeAll(async () => {
    database = await freshDatabase("json_rows");
    pool = openPool(database.url, 1);
    q = drizzle({ client: pool });
    await pool.query(`create table t ("id" bigint primary key, "n" bigint, "s" text, "maybe" bigint, "flag" boolean)`);
    for (const [i, text] of TEXTS.entries()) {
      await pool.query(`insert into t values ($1, $2, $3, $4, $5)`, [i + 1, INTEGERS[i % INTEGERS.length], text, i % 2 ? null : i, i % 3 === 0]);
    }
  });
  afterAll(async () => {
    await pool?.end();
    await database?.drop();
  });

  let statements = 0;
  const asArrays = (text: string, values: unknown[] = []) => arrayRows(q, `plain_${statements++}`, text, values);

  it("are the arrays node-postgres reads, value for value, whatever the text", async () => {
    const fromJson = await jsonRows(q, "all_rows", { select: `select ${COLUMNS} from t`, columns: COLUMNS, orderBy: `"id"` }, []);
    expect(fromJson).toEqual(await asArrays(`select ${COLUMNS} from t order by "id"`));
    expect(fromJson.map((row) => row[2])).toEqual(TEXTS);
    expect(fromJson.some((row) => row[3] === null)).toBe(true);
    expect(fromJson.map((row) => row[4])).toContain(true);
  });

  it("come in the order asked for, with the parameters bound", async () => {
    const rows = await jsonRows(q, "after_rows", { select: `select ${COLUMNS} from t where "id" > $1`, columns: COLUMNS, orderBy: `"n" desc, "id"` }, [3]);
    expect(rows).toEqual(await asArrays(`select ${COLUMNS} from t where "id" > $1 order by "n" desc, "id"`, [3]));
    expect(rows).toHaveLength(TEXTS.length - 3);
  });

  it("are an empty list when nothing matches", async () => {
    expect(await jsonRows(q, "no_rows", { select: `select ${COLUMNS} from t where "id" < 0`, columns: COLUMNS, orderBy: `"id"` }, [])).toEqual([]);
  });

  it("refuse an integer beyond 2^53 rather than round it, as an array row does", async () => {
    await pool.query(`insert into t ("id", "n") values (1000, $1)`, [(2n ** 53n + 1n).toString()]);
    const refusal = { cause: expect.any(RangeError) };
    await expect(jsonRows(q, "big_row", { select: `select ${COLUMNS} from t where "id" = 1000`, columns: COLUMNS, orderBy: `"id"` }, [])).rejects.toMatchObject(refusal);
    await expect(asArrays(`select ${COLUMNS} from t where "id" = 1000`)).rejects.toMatchObject(refusal);
  });
});
