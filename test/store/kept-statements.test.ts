/**
 * Statements the SQLite store keeps prepared must not bind a bare LIMIT or LIKE parameter:
 * SQLite reads such a value while planning, so binding it again expires the statement, and every
 * run prepares it anew. They write `unplanned(name)` instead, which SQLite evaluates as it runs;
 * drizzle's queries take `unplannedLimit(n)`, or SQLite would prepare each of them twice.
 */
import { asc } from "drizzle-orm";
import { integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { afterEach, describe, expect, it } from "vitest";
import { type Db, jsonRowsStatement, openDatabase, prepared, rawStatement, rowsStatement, type Tx, unplanned, unplannedLimit } from "../../server/store/sqlite/database.js";

let db: Db | undefined;
afterEach(() => {
  db?.$client.close();
  db = undefined;
});

const NAMES = ["Alpha", "Beta", "Gamma", "Delta", "Epsilon"];

function scratch(): Db {
  db = openDatabase({ path: ":memory:" });
  db.$client.exec(`create table t ("id" integer primary key, "name" text not null)`);
  const insert = db.$client.prepare(`insert into t ("name") values (?)`);
  for (const name of NAMES) insert.run(name);
  return db;
}

describe("a statement kept prepared", () => {
  it.each<[string, (tx: Tx) => unknown]>([
    ["LIMIT", rawStatement(`select "id" from t order by "id" limit @limit`)],
    ["LIMIT", rowsStatement(`select "id" from t order by "id" LIMIT ?`)],
    ["LIKE", rowsStatement(`select "id" from t where "name" like @pattern`)],
    ["LIMIT", jsonRowsStatement(`"id"`, `from (select "id" from t order by "id" limit :n)`)],
  ])("binding a bare %s parameter is refused when it is prepared, saying what to write instead", (keyword, build) => {
    const database = scratch();
    expect(() => prepared(database, build)).toThrow(new RegExp(`bare ${keyword} parameter.*unplanned`));
  });

  it("takes each new limit under unplanned, run after run", () => {
    const statement = prepared(scratch(), rowsStatement(`select "id" from t order by "id" limit ${unplanned("limit")}`));
    expect([2, 4, 1].map((limit) => statement.all({ limit }).length)).toEqual([2, 4, 1]);
  });

  it("matches each new pattern under unplanned, with its escape, run after run", () => {
    const statement = prepared(scratch(), jsonRowsStatement(`"name"`, `from t where "name" like ${unplanned("pattern")} escape '\\'`, `"id"`));
    expect(statement.all({ pattern: "%lt%" })).toEqual([["Delta"]]);
    expect(statement.all({ pattern: "%a" })).toEqual([["Alpha"], ["Beta"], ["Gamma"], ["Delta"]]);
    expect(statement.all({ pattern: "%\\%%" })).toEqual([]);
  });

  it("may still name limit and like where nothing is bound", () => {
    const statement = prepared(scratch(), rowsStatement(`select "id" from t where "name" like 'B%' order by "id" limit 5`));
    expect(statement.all()).toEqual([[2]]);
  });
});

describe("a drizzle query's limit", () => {
  const t = sqliteTable("t", { id: integer("id").primaryKey(), name: text("name").notNull() });

  it("is bound under a plus, and each call takes its own", () => {
    const database = scratch();
    const page = (limit: number) => database.select().from(t).orderBy(asc(t.id)).limit(unplannedLimit(limit));
    expect(page(2).toSQL()).toMatchObject({ sql: expect.stringMatching(/ limit \+\?$/), params: [2] });
    expect([2, 4, 1].map((limit) => page(limit).all().map((row) => row.name))).toEqual([NAMES.slice(0, 2), NAMES.slice(0, 4), NAMES.slice(0, 1)]);
  });
});
