import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

/** The suites that exercise the store: run on SQLite with everything else, then again on PostgreSQL. */
const STORE_SUITES = ["test/store/**/*.test.ts", "test/services/**/*.test.ts", "test/graphql/**/*.test.ts", "test/reliability/**/*.test.ts"];

/** Tests about SQLite itself, or about no engine at all: they run in the sqlite project only. */
const NOT_ON_POSTGRES = [
  // Migrations of SQLite files (journal mode, foreign keys, the shipped data in a file).
  "test/services/migrations.test.ts",
  // The PostgreSQL migrations: already run in the sqlite project, on PGlite and on the server.
  "test/services/pg-migrations.test.ts",
  // Compares the two schemas' table definitions; no database is opened.
  "test/services/schema-drift.test.ts",
  // The read pool: SQLite's worker threads with their own read-only connections.
  "test/graphql/read-pool.test.ts",
  "test/reliability/read-pool-launch.test.ts",
  // SIGKILLs against a server on a SQLite file: WAL recovery, synchronous modes, the file's integrity.
  "test/reliability/crash-safety.test.ts",
  // SIGTERM until no WAL file is left behind.
  "test/reliability/graceful-shutdown.test.ts",
  // Server processes sharing one SQLite file: its write lock, its busy timeout, the sqlite3 shell.
  "test/reliability/multi-process.test.ts",
  // Several processes on one SQLite file, and no secret in the file's bytes, WAL included.
  "test/reliability/access-control.test.ts",
];

const shared = {
  resolve: {
    // graphql ships both index.mjs and index.js; loading both breaks instanceof checks
    // ("another module or realm"), so every import resolves to one copy.
    alias: [{ find: /^graphql$/, replacement: fileURLToPath(new URL("./node_modules/graphql/index.js", import.meta.url)) }],
  },
};

/** The PostgreSQL server the postgres project runs on (.ci/run sets it). */
const POSTGRES_URL = process.env.FLEXGATE_TEST_DATABASE_URL || null;
if (!POSTGRES_URL) console.info("postgres project skipped: FLEXGATE_TEST_DATABASE_URL is not set: no PostgreSQL server to run against");

const timeouts = { testTimeout: 30_000, hookTimeout: 60_000, pool: "forks" } as const;

/** The store's suites again, on a copy of a migrated template database per test (test/fixtures/postgres-setup.ts). */
const postgresProject = {
  ...shared,
  test: {
    ...timeouts,
    // Every statement is a round trip to a server, which the in-process SQLite never pays.
    testTimeout: 120_000,
    name: "postgres",
    include: STORE_SUITES,
    exclude: NOT_ON_POSTGRES,
    env: { FLEXGATE_TEST_ENGINE: "postgres" },
    globalSetup: ["test/fixtures/postgres-setup.ts"],
  },
};

export default defineConfig({
  ...shared,
  test: {
    projects: [
      { ...shared, test: { ...timeouts, name: "sqlite", include: ["test/**/*.test.ts"] } },
      ...(POSTGRES_URL ? [postgresProject] : []),
    ],
  },
});

