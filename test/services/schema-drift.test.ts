/**
 * The SQLite and PostgreSQL table definitions describe one schema: a column, index or constraint
 * added to one dialect and forgotten in the other fails here, before any migration is generated.
 */
import { getTableConfig as pgTableConfig, type PgTable } from "drizzle-orm/pg-core";
import { getTableConfig as sqliteTableConfig, type SQLiteTable } from "drizzle-orm/sqlite-core";
import { describe, expect, it } from "vitest";
import * as pg from "../../schema/tables.pg.js";
import * as sqlite from "../../schema/tables.js";

interface Shape {
  readonly columns: Record<string, { notNull: boolean; primary: boolean; hasDefault: boolean }>;
  readonly indexes: Record<string, { columns: string[]; unique: boolean }>;
  readonly foreignKeys: string[];
}

type Config = ReturnType<typeof sqliteTableConfig> | ReturnType<typeof pgTableConfig>;

function shapeOf(config: Config): Shape {
  return {
    columns: Object.fromEntries(
      config.columns.map((column) => [column.name, { notNull: column.notNull, primary: column.primary, hasDefault: column.hasDefault && !column.primary }]),
    ),
    indexes: Object.fromEntries(
      config.indexes.map((index) => [
        index.config.name,
        { columns: index.config.columns.map((column) => (column as { name: string }).name), unique: Boolean(index.config.unique) },
      ]),
    ),
    foreignKeys: config.foreignKeys
      .map((key) => {
        const reference = key.reference();
        return `${reference.columns.map((column) => column.name).join(",")} -> ${(reference.foreignTable as unknown as { [key: symbol]: string })[Symbol.for("drizzle:Name")]}`;
      })
      .sort(),
  };
}

const sqliteShapes = Object.fromEntries(Object.values(sqlite.schemaTables).map((table) => [sqliteTableConfig(table as SQLiteTable).name, shapeOf(sqliteTableConfig(table as SQLiteTable))]));
const pgShapes = Object.fromEntries(Object.values(pg.schemaTables).map((table) => [pgTableConfig(table as PgTable).name, shapeOf(pgTableConfig(table as PgTable))]));

describe("the two dialects' schemas", () => {
  it("hold the same tables", () => {
    expect(Object.keys(pgShapes).sort()).toEqual(Object.keys(sqliteShapes).sort());
    expect(Object.keys(sqliteShapes).length).toBeGreaterThanOrEqual(12);
  });

  it.each(Object.keys(sqliteShapes))("%s: same columns, nullability, keys, defaults, indexes and uniqueness", (table) => {
    expect(pgShapes[table]).toEqual(sqliteShapes[table]);
  });
});
