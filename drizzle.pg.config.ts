import { defineConfig } from "drizzle-kit";

/** PostgreSQL: `npm run db:generate:pg`. The SQLite migrations have their own config (drizzle.config.ts). */
export default defineConfig({
  dialect: "postgresql",
  schema: "./schema/tables.pg.ts",
  out: "./migrations-postgres",
});
