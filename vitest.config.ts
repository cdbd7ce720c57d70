import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

/** The suites that exercise the store: run on SQLite with everything else, then again on PostgreSQL. */
const STORE_SUITES = ["test/store/**/*.test.ts", "test/services/**/*.test.ts", "test/graphql/**/*.test.ts", "test/reliability/**/*.test.ts"];

/** Tests about SQLite itself, or about no engine at all, with the reason: they run in the sqlite project only. */
const NOT_ON_POSTGRES: Record<string, string> = {
  "test/services/migrations.test.ts": "migrates SQLite files (journal mode, foreign keys, the shipped data in a file)",
  "test/services/pg-migrations.test.ts": "tests the PostgreSQL migrations themselves, on PGlite and on the server, in the sqlite project already",
  "test/services/tiered-postgres.test.ts": "runs on PostgreSQL on a database of its own, in the sqlite project already",
  "test/store/pg-insight.test.ts": "compares the PostgreSQL insight reads with SQLite's, on a database of its own, in the sqlite project already",
  "test/store/pg-concurrent-writers.test.ts": "races PostgreSQL writers on a database of its own, in the sqlite project already",
  "test/store/pg-json-rows.test.ts": "reads PostgreSQL's rows as one JSON value, on a database of its own, in the sqlite project already",
  "test/store/sqlite-shared-reads.test.ts": "SQLite's reads shared per turn of the event loop",
  "test/store/pg-shared-reads.test.ts": "shares PostgreSQL reads on pools of its own, on a database of its own, in the sqlite project already",
  "test/reliability/replicas.test.ts": "runs three replicas on a PostgreSQL database of its own, in the sqlite project already",
  "test/services/schema-drift.test.ts": "compares the two schemas' table definitions; opens no database",
  "test/graphql/read-pool.test.ts": "the read pool: SQLite's worker threads with read-only connections of their own",
  "test/store/threads-loaded.test.ts": "worker threads' start and end, which no store takes part in",
  "test/store/rating-thread.test.ts": "the rating thread: a worker thread with a SQLite connection of its own",
  "test/store/checkpoints.test.ts": "SQLite's WAL checkpoints, run on the read pool",
  "test/store/deficit-index.test.ts": "reads SQLite's index pages (dbstat) and query plans",
  "test/store/statement-text.test.ts": "quotes texts for PostgreSQL's statements; opens no database",
  "test/store/export-page-rows.test.ts": "maps either engine's export rows; opens no database",
  "test/store/json-rows.test.ts": "SQLite's page reads as one JSON text, against better-sqlite3's raw rows",
  "test/store/kept-statements.test.ts": "SQLite re-preparing statements whose bound LIMIT or LIKE it reads while planning",
  "test/reliability/read-pool-launch.test.ts": "the read pool's worker, bundled and started as the server starts it",
  "test/reliability/crash-safety.test.ts": "SIGKILLs a server on a SQLite file: WAL recovery, synchronous modes, the file's integrity",
  "test/reliability/graceful-shutdown.test.ts": "SIGTERM until no WAL file is left behind",
  "test/reliability/multi-process.test.ts": "server processes sharing one SQLite file: its write lock, its busy timeout, the sqlite3 shell",
  "test/reliability/access-control.test.ts": "processes sharing one SQLite file, and no secret in the file's bytes, WAL included",
};

const shared = {
  resolve: {
    // graphql ships both index.mjs and index.js; loading both breaks instanceof checks
    // ("another module or realm"), so every import resolves to one copy.
    alias: [{ find: /^graphql$/, replacement: fileURLToPath(new URL("./node_modules/graphql/index.js", import.meta.url)) }],
  },
};

/** The PostgreSQL server the postgres project runs on (.ci/run sets it). */
const POSTGRES_URL = process.env.FLEXGATE_TEST_DATABASE_URL || null;

/**
 * Without a server, the functional suites run on PostgreSQL in process: PGlite behind a
 * PostgreSQL socket, reached by the production engine through node-postgres as a server would be
 * (test/fixtures/pglite.ts). PGlite is one session in this process: these are left out, and why.
 */
const NOT_ON_PGLITE: Record<string, string> = {
  "test/reliability/hostile-input.test.ts": "in process, but minutes of requests on a server already: with FLEXGATE_TEST_DATABASE_URL only, to keep npm test short",
  "test/reliability/model-based.test.ts": "in process, but long random sequences: with FLEXGATE_TEST_DATABASE_URL only, to keep npm test short",
  "test/reliability/model-based-tiered.test.ts": "in process, but long random sequences: with FLEXGATE_TEST_DATABASE_URL only, to keep npm test short",
  "test/graphql/heavy-reads.test.ts": "times pings answered while heavy reads run: PGlite runs those reads on this process's event loop, where a server would run them",
  "test/services/rating-group.test.ts": "random groups compared with one-at-a-time rating, minutes on PGlite: with FLEXGATE_TEST_DATABASE_URL only, to keep npm test short",
  "test/services/ledger.property.test.ts": "random command sequences, minutes on PGlite: with FLEXGATE_TEST_DATABASE_URL only, to keep npm test short",
};

/** The functional suites; the reliability ones start server processes, or run for minutes. */
const PGLITE_INCLUDE = ["test/store/**/*.test.ts", "test/services/**/*.test.ts", "test/graphql/**/*.test.ts"];

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
    exclude: Object.keys(NOT_ON_POSTGRES),
    env: { FLEXGATE_TEST_ENGINE: "postgres" },
    globalSetup: ["test/fixtures/postgres-setup.ts"],
  },
};

/** The functional suites on the PostgreSQL engine, on an in-process PGlite per test worker. */
const pgliteProject = {
  ...postgresProject,
  test: {
    ...postgresProject.test,
    // PostgreSQL compiled to WebAssembly runs each statement several times slower than a server.
    testTimeout: 600_000,
    name: "pglite",
    include: PGLITE_INCLUDE,
    exclude: [...Object.keys(NOT_ON_POSTGRES), ...Object.keys(NOT_ON_PGLITE)],
    env: { FLEXGATE_TEST_ENGINE: "postgres", FLEXGATE_TEST_POSTGRES: "pglite" },
  },
};

if (POSTGRES_URL) for (const [file, reason] of Object.entries(NOT_ON_POSTGRES)) console.info(`postgres project leaves out ${file}: ${reason}`);
else {
  console.info("postgres project skipped: FLEXGATE_TEST_DATABASE_URL is not set; the pglite project runs the store, service and GraphQL suites on PostgreSQL in process");
  for (const [file, reason] of Object.entries({ ...NOT_ON_POSTGRES, ...NOT_ON_PGLITE })) console.info(`pglite project leaves out ${file}: ${reason}`);
}

/**
 * Files that time some requests while others run (pings beside heavy reads, a refusal against a
 * baseline): they run after everything else, one file at a time, so no other test shares the
 * machine's cores with them. Everything else runs two files at a time: most of the suite waits
 * on server processes, PostgreSQL or a browser rather than on a core.
 */
const TIMED = [
  "test/graphql/read-pool.test.ts",
  "test/graphql/heavy-reads.test.ts",
  "test/graphql/limits.test.ts",
  "test/graphql/list-maxima.test.ts",
  "test/graphql/roles.test.ts",
  "test/graphql/slow-requests.test.ts",
];

type Project = { test: { name: string; exclude?: string[] } };

/** A project as two: its untimed files with the others, then its timed ones alone, in group `timedGroup`. */
function splitTimed<P extends Project>(project: P, timedGroup: number) {
  const leftOut = project.test.exclude ?? [];
  return [
    { ...project, test: { ...project.test, exclude: [...leftOut, ...TIMED], maxWorkers: 2, sequence: { groupOrder: 0 } } },
    {
      ...project,
      test: { ...project.test, name: `${project.test.name}-timed`, include: TIMED.filter((file) => !leftOut.includes(file)), exclude: [], maxWorkers: 1, sequence: { groupOrder: timedGroup } },
    },
  ];
}

export default defineConfig({
  ...shared,
  test: {
    projects: [
      ...splitTimed({ ...shared, test: { ...timeouts, name: "sqlite", include: ["test/**/*.test.ts"] } }, 1),
      ...splitTimed(POSTGRES_URL ? postgresProject : pgliteProject, 2),
    ],
  },
});
