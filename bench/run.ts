/**
 * Flexgate benchmarks: the real server in a child process, driven over HTTP with autocannon,
 * every figure next to a baseline measured in the same run (the machine is shared and noisy, so
 * the ratios matter more than the absolute numbers).
 *
 *   npm run bench                 full run (about 6 minutes, a 1,000,000-charge database), both engines
 *                                 when the PostgreSQL server below answers, SQLite alone otherwise
 *   npm run bench -- --quick      short run (well under a minute, a 100,000-charge database)
 *   npm run bench -- --profile    also write a CPU profile of each server and summarise it
 *   npm run bench -- --only B1,B3 run some of B1 (with B5), B2, B3, B4, B6 (tiered against LEGACY rating)
 *   npm run bench -- --tsx        run the server from its TypeScript sources through tsx
 *   npm run bench -- --synchronous NORMAL   run the server with FLEXGATE_SYNCHRONOUS=NORMAL
 *   npm run bench -- --node-flags="--heap-growing-percent=150"   start the server's node with these options
 *   npm run bench -- --store sqlite        SQLite's figures only
 *   npm run bench -- --store postgres      also B1-B3 on PostgreSQL, and 1 vs 2 replicas on it, or fail
 *   npm run bench -- --store postgres --pool 20   FLEXGATE_DATABASE_POOL of each PostgreSQL server
 *
 * On PostgreSQL the run creates a database flexgate_bench_<pid> on the server named by
 * FLEXGATE_BENCH_DATABASE_URL (an admin URL, default postgres://postgres@127.0.0.1:5432/postgres),
 * fills it with a copy of the SQLite figures' starting database and drops it at the end (--keep
 * keeps it, with the work folder).
 *
 * The server is compiled from the working tree first (bench/results/dist), as `npm start` does.
 * Prints a markdown table and writes bench/results/latest.json.
 */
import { SqliteStore } from "../server/store/sqlite/store.js";
import { execSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { cpus } from "node:os";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import pg from "pg";
import { DEFAULT_RULES } from "../server/services/context.js";
import { createServices } from "../server/services/index.js";
import { DEFAULT_BATCHER_OPTIONS } from "../server/services/usage-batcher.js";
import { type Db, openDatabase } from "../server/store/sqlite/database.js";
import { PgStore } from "../server/store/pg/store.js";
import type { Store } from "../server/store/port.js";
import { bareGraphql, cpuSeconds, loadPortalData, loadPortalDataFromPostgres, type PortalAccount, PORTAL_QUERY, ledgerAppendRate, portalInProcess, type PortalInProcess, ratingInProcess, rawInsertRate, rawPostgresInsertRate, startBareServer, uuidV7 } from "./baselines.js";
import { assertServerFits, benchServerAnswers, benchServerPlace, createBenchDatabase, fillFromSqlite } from "./postgres.js";
import { generateDatabase, type GenerateSummary } from "./generate.js";
import { BATCH_SIZE, batchAccepted, batchBody, cloudEventsAccepted, cloudEventsBody, PORTAL, recordBody, TYPENAME } from "./requests.js";
import { printProfile, summariseProfile } from "./profile-summary.js";
import { tieredAgainstLegacy, type TieredComparison } from "./tiered.js";
import { buildServer, graphql, type Keys, keysFor, load, type LoadOptions, type LoadResult, mainThreadProfile, nodeFlagsOf, REPO_ROOT, type RunningServer, say, type ServerOptions, startServer } from "./server.js";

const { values: args } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    profile: { type: "boolean", default: false },
    only: { type: "string" },
    keep: { type: "boolean", default: false },
    tsx: { type: "boolean", default: false },
    synchronous: { type: "string", default: "FULL" },
    store: { type: "string", default: "auto" },
    pool: { type: "string", default: "10" },
    "node-flags": { type: "string" },
  },
});
if (!["auto", "sqlite", "postgres"].includes(args.store)) throw new Error(`--store must be auto, sqlite or postgres, got "${args.store}"`);
/**
 * Besides SQLite's figures, the same on PostgreSQL and 1 vs 2 replicas on it: always with
 * `--store postgres`, by default when the server answers, never with `--store sqlite`.
 */
const POSTGRES = args.store === "postgres" || (args.store === "auto" && (await benchServerAnswers()));
if (args.store === "auto" && !POSTGRES) console.log(`no PostgreSQL server answers at ${benchServerPlace()} (FLEXGATE_BENCH_DATABASE_URL): SQLite figures only`);
const PG_POOL = Number(args.pool);
if (!Number.isInteger(PG_POOL) || PG_POOL < 1) throw new Error(`--pool must be a whole number of connections, got "${args.pool}"`);

const QUICK = args.quick!;
const SYNCHRONOUS = args.synchronous!.toUpperCase() === "NORMAL" ? "NORMAL" : "FULL";
const NODE_FLAGS = nodeFlagsOf(args["node-flags"]);
// B2 keeps windows of 6 s or more: 32 batches of 500 events in flight take seconds to answer.
const SETTINGS = QUICK
  ? { seconds: 2, batchSeconds: 6, warmupSeconds: 1, rawMs: 1000, bareMs: 1000, largeCharges: 100_000, largeAccounts: 10_000 }
  : { seconds: 10, batchSeconds: 10, warmupSeconds: 3, rawMs: 5000, bareMs: 3000, largeCharges: 1_000_000, largeAccounts: 10_000 };
const SMALL = { accounts: 200, resellers: 2 };
const CONNECTIONS = 32;
/** As many batch clients as single-event ones: concurrent batches are what group commit merges. */
const BATCH_CONNECTIONS = 32;
/**
 * Batch clients in the replica comparison: its slices last half of B2's window, and 32 batches in
 * flight on PostgreSQL take longer than that to answer, so a slice would end with none answered.
 */
const REPLICA_BATCH_CONNECTIONS = 8;
const ONLY = new Set((args.only ?? "B1,B2,B3,B4,B6").toUpperCase().split(",").map((part) => part.trim()));
const RESULTS = join(REPO_ROOT, "bench", "results");
const PROFILES = join(RESULTS, "profiles");

/** Functions whose inclusive time the profile summary reports. */
const PROFILE_MARKERS = ["recordGroup", "recordUsageBatch", "execute", "expressMiddleware", "requireKey", "jsonParser", "createContext", "writev", "fdatasync", "fsync", "authenticate", "rateInTransaction", "submit"];

/** Runs a load once unmeasured (JIT, caches), then measured; acknowledged counts both. */
async function measure(label: string, options: Parameters<typeof load>[0], acknowledged: { count: number }): Promise<LoadResult> {
  const warm = await load({ ...options, seconds: SETTINGS.warmupSeconds });
  const result = await load(options);
  acknowledged.count += warm.ok + result.ok;
  report(label, result);
  if (result.failed > 0 || warm.failed > 0) throw new Error(`${label}: ${result.failed + warm.failed} requests failed`);
  // A zero would read as a figure; it means no request finished within the window.
  if (result.ok === 0) throw new Error(`${label}: no request completed in ${options.seconds} s`);
  return result;
}

function report(label: string, result: LoadResult): void {
  say(`  ${label}: ${fmt(result.perSecond)}/s, p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms${result.failed ? `, ${result.failed} FAILED` : ""}`);
}

/** One load, or several at once (one per replica) whose results add up. */
type Load = LoadOptions | readonly LoadOptions[];

async function run(side: Load, seconds?: number): Promise<LoadResult> {
  const parts = await Promise.all((Array.isArray(side) ? side : [side as LoadOptions]).map((options) => load(seconds === undefined ? options : { ...options, seconds })));
  if (parts.length === 1) return parts[0]!;
  const ok = parts.reduce((sum, part) => sum + part.ok, 0);
  const elapsed = Math.max(...parts.map((part) => part.seconds));
  // Latency percentiles cannot be merged exactly; the slower part's are reported.
  return {
    perSecond: ok / elapsed,
    ok,
    failed: parts.reduce((sum, part) => sum + part.failed, 0),
    seconds: elapsed,
    p50Ms: Math.max(...parts.map((part) => part.p50Ms)),
    p99Ms: Math.max(...parts.map((part) => part.p99Ms)),
  };
}

const secondsOf = (side: Load) => (Array.isArray(side) ? (side as readonly LoadOptions[])[0]!.seconds : (side as LoadOptions).seconds);

/**
 * A figure and its baseline measured in alternating slices (baseline, figure, baseline,
 * figure), each warmed up first: other tenants of a shared machine come and go within seconds,
 * and alternating spreads their noise over both sides of the ratio instead of onto one.
 */
async function measurePair(
  labels: readonly [string, string],
  options: readonly [Load, Load],
  acknowledged: readonly [{ count: number }, { count: number }],
): Promise<[LoadResult, LoadResult]> {
  const slices = 2;
  const results: LoadResult[][] = [[], []];
  for (const side of [0, 1] as const) {
    const warm = await run(options[side], SETTINGS.warmupSeconds);
    acknowledged[side].count += warm.ok;
    if (warm.failed > 0) throw new Error(`${labels[side]}: ${warm.failed} requests failed`);
  }
  for (let slice = 0; slice < slices; slice++) {
    for (const side of [0, 1] as const) {
      const result = await run(options[side], secondsOf(options[side]) / slices);
      acknowledged[side].count += result.ok;
      if (result.failed > 0) throw new Error(`${labels[side]}: ${result.failed} requests failed`);
      results[side]!.push(result);
    }
  }
  const combined = results.map((parts): LoadResult => {
    const ok = parts.reduce((sum, part) => sum + part.ok, 0);
    const seconds = parts.reduce((sum, part) => sum + part.seconds, 0);
    // Latency percentiles cannot be merged exactly; the slower slice's are reported.
    return { perSecond: ok / seconds, ok, failed: 0, seconds, p50Ms: Math.max(...parts.map((part) => part.p50Ms)), p99Ms: Math.max(...parts.map((part) => part.p99Ms)) };
  });
  combined.forEach((result, side) => report(labels[side]!, result));
  return [combined[0]!, combined[1]!];
}

const fmt = (value: number, digits = 0) => value.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });

function machine() {
  const cpuinfo = readFileSync("/proc/cpuinfo", "utf8");
  const model = /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1]?.trim() ?? cpus()[0]?.model ?? "unknown";
  let commit = "unknown";
  try {
    commit = execSync("git rev-parse --short HEAD", { cwd: REPO_ROOT, encoding: "utf8" }).trim();
  } catch {
    // Not a git checkout: the commit is only informative.
  }
  return {
    nproc: Number(execSync("nproc", { encoding: "utf8" }).trim()),
    cpu: model,
    node: process.version,
    memoryGb: Math.round((Number(/MemTotal:\s+(\d+)/.exec(readFileSync("/proc/meminfo", "utf8"))?.[1] ?? 0) / 1024 / 1024) * 10) / 10,
    commit,
  };
}

/** Recomputes the whole ledger of a database no server uses any more, after counting its charges. */
async function checkLedger(store: Store, charges: number) {
  const started = Date.now();
  const drift = (await createServices({ store, clock: Date.now, rules: DEFAULT_RULES }).ledger.verify()).length;
  return { charges, drift, verifySeconds: (Date.now() - started) / 1000 };
}

const sqliteCharges = (db: Db) => (db.$client.prepare("select count(*) as n from usage_charges").get() as { n: number }).n;

/** The ledger checks after a database's runs: no drift, and every acknowledged event stored. */
function assertLedger(name: string, ledger: { charges: number; drift: number }, expected: number): void {
  if (ledger.drift !== 0) throw new Error(`${name}: the ledger does not balance after the benchmark`);
  if (ledger.charges < expected) throw new Error(`${name}: acknowledged events are missing from the database`);
}

/**
 * Recomputes the ledger of a SQLite database no server uses any more, says what it holds, and
 * fails the run unless it balances and holds every acknowledged event; returns the check.
 */
async function verifySqliteLedger(name: string, path: string, acknowledged: number) {
  const ledger = await withSqliteStore(path, (store, db) => checkLedger(store, sqliteCharges(db)));
  say(`${name}: ${fmt(ledger.charges)} charges for ${fmt(acknowledged)} acknowledged events, ledger drift ${ledger.drift}`);
  assertLedger(name, ledger, acknowledged);
  return { ...ledger, acknowledged };
}

/** A SQLite store on a file no server uses, for the in-process measurements and the checks. */
async function withSqliteStore<T>(path: string, work: (store: Store, db: Db) => Promise<T>): Promise<T> {
  const db = openDatabase({ path, synchronous: "FULL" });
  try {
    return await work(new SqliteStore(db), db);
  } finally {
    db.$client.close();
  }
}

async function withServer<T>(name: string, database: Pick<ServerOptions, "dbPath" | "databaseUrl" | "databasePool">, operatorKey: string, work: (server: RunningServer) => Promise<T>): Promise<T> {
  const profileDir = join(PROFILES, name);
  if (args.profile) {
    rmSync(profileDir, { recursive: true, force: true });
    mkdirSync(profileDir, { recursive: true });
  }
  const server = await startServer({ ...database, operatorKey, tsx: args.tsx, synchronous: SYNCHRONOUS, nodeFlags: NODE_FLAGS, ...(args.profile ? { profileDir } : {}) });
  try {
    return await work(server);
  } finally {
    await server.stop();
    if (server.errorLines.length > 0) say(`server ${name} logged:\n${server.errorLines.slice(0, 10).join("\n")}`);
    if (args.profile) {
      const path = mainThreadProfile(profileDir);
      const text = printProfile(summariseProfile(path, 40, PROFILE_MARKERS));
      writeFileSync(join(PROFILES, `${name}.txt`), `${text}\n`);
      say(`profile of the ${name} server: ${path}, summary in ${join(PROFILES, `${name}.txt`)}`);
    }
  }
}

/** B1: single-event recordUsage against `{ __typename }` on the same server and key. */
function measureB1(server: RunningServer, keys: Keys, small: GenerateSummary, acknowledged: { count: number }) {
  return measurePair(
    ["{ __typename }", "recordUsage"],
    [
      { url: server.url, key: keys.metering, connections: CONNECTIONS, seconds: SETTINGS.seconds, body: () => TYPENAME },
      { url: server.url, key: keys.metering, connections: CONNECTIONS, seconds: SETTINGS.seconds, body: recordBody(small) },
    ],
    [{ count: 0 }, acknowledged],
  );
}

/** B2: recordUsageBatch of BATCH_SIZE events; acknowledged counts events. */
async function measureB2(server: RunningServer, keys: Keys, small: GenerateSummary, acknowledged: { count: number }): Promise<BatchLoad> {
  const counted = { count: 0 };
  const cpuBefore = cpuSeconds(server.pid);
  const batch = await measure("recordUsageBatch", { url: server.url, key: keys.metering, connections: BATCH_CONNECTIONS, seconds: SETTINGS.batchSeconds, body: batchBody(small), accept: batchAccepted }, counted);
  acknowledged.count += counted.count * BATCH_SIZE;
  return { ...batch, eventsPerCpuSecond: perCpuSecond(server, cpuBefore, counted) };
}

/** A batch load, and the events the server stored per second of its own CPU (warm-up included). */
type BatchLoad = LoadResult & { readonly eventsPerCpuSecond: number };

/**
 * Events per CPU second of the server process: the load generator and other work on the machine
 * take cores from the server and move events/s, but not this.
 */
function perCpuSecond(server: RunningServer, cpuBefore: number, counted: { count: number }): number {
  const perCpu = (counted.count * BATCH_SIZE) / (cpuSeconds(server.pid) - cpuBefore);
  say(`    ${fmt(perCpu)} events per CPU second of the server`);
  return perCpu;
}

/** B2 through POST /v1/events: the same events as a CloudEvents batch; acknowledged counts events. */
async function measureIngest(server: RunningServer, keys: Keys, small: GenerateSummary, acknowledged: { count: number }): Promise<BatchLoad> {
  const counted = { count: 0 };
  const options = { url: server.url, key: keys.metering, connections: BATCH_CONNECTIONS, seconds: SETTINGS.batchSeconds, body: cloudEventsBody(small), accept: cloudEventsAccepted, path: "/v1/events", contentType: "application/cloudevents-batch+json" };
  const cpuBefore = cpuSeconds(server.pid);
  const ingest = await measure("POST /v1/events", options, counted);
  acknowledged.count += counted.count * BATCH_SIZE;
  return { ...ingest, eventsPerCpuSecond: perCpuSecond(server, cpuBefore, counted) };
}

/**
 * B3: the portal page against bare graphql-js serving the same document over the same data from
 * memory, behind bare node:http in a child process, both under the same load in alternating
 * slices; both must give the same answer. Bare graphql-js in this process is kept for scale.
 */
async function measureB3(server: RunningServer, keys: Keys, data: readonly PortalAccount[], dir: string, checks: Record<string, unknown>, checkName: string) {
  const bareServer = await startBareServer(data, dir);
  try {
    // The same answer from both, so the comparison is like for like.
    const served = await graphql<unknown>(server.url, keys.partner, PORTAL_QUERY);
    const bareServed = await graphql<unknown>(bareServer.url, keys.partner, PORTAL_QUERY);
    checks[checkName] = JSON.stringify(served) === JSON.stringify(bareServed);
    if (!checks[checkName]) say(`  the answers differ:\n  server: ${JSON.stringify(served).slice(0, 400)}\n  bare:   ${JSON.stringify(bareServed).slice(0, 400)}`);
    const loadOf = (url: string): LoadOptions => ({ url, key: keys.partner, connections: CONNECTIONS, seconds: SETTINGS.seconds, body: () => PORTAL });
    // Each process's CPU time over the pair, and every request it answered (warm-ups included):
    // each is idle while the other one is loaded.
    const answered = [{ count: 0 }, { count: 0 }] as const;
    const cpuBefore = [cpuSeconds(bareServer.pid), cpuSeconds(server.pid)];
    const [bareHttp, portal] = await measurePair(["bare graphql-js over HTTP", "portal query"], [loadOf(bareServer.url), loadOf(server.url)], answered);
    const perCpuSecond = (side: 0 | 1, pid: number) => answered[side].count / (cpuSeconds(pid) - cpuBefore[side]!);
    const cpu = { bare: perCpuSecond(0, bareServer.pid), portal: perCpuSecond(1, server.pid) };
    say(`  per CPU second of each server process: bare ${fmt(cpu.bare)} requests, portal ${fmt(cpu.portal)} (ratio ${fmt(cpu.portal / cpu.bare, 2)})`);
    const bare = bareGraphql(data);
    const bareExecute = bare.executeRate(SETTINGS.bareMs);
    const bareFull = bare.fullRate(SETTINGS.bareMs);
    say(`  ratio ${fmt(portal.perSecond / bareHttp.perSecond, 2)}; bare graphql-js in this process: execute ${fmt(bareExecute)}/s, parse+validate+execute ${fmt(bareFull)}/s; same answer: ${checks[checkName]}`);
    return { portal, bareHttp, cpu, bareExecute, bareFull };
  } finally {
    await bareServer.stop();
  }
}

interface Report {
  b1?: { record: LoadResult; typename: LoadResult; rawSingle: number; peakRssMb: number };
  b2?: { batch: BatchLoad; eventsPerSecond: number; ingest: BatchLoad; rawBatch: number; inProcess: number; inProcessOrderedIds: number; ledgerAppends: number };
  b3?: { portal: LoadResult; bareHttp: LoadResult; cpu: { bare: number; portal: number }; bareExecute: number; bareFull: number; inProcess: PortalInProcess };
  b4?: { generated: GenerateSummary; record: LoadResult; typename: LoadResult; portal: LoadResult; peakRssMb: number };
  /** Tiered (PAID prepay) against LEGACY rating, in process, on each engine. */
  b6?: { sqlite?: TieredComparison; postgres?: TieredComparison };
  pg?: PostgresReport;
  checks: Record<string, unknown>;
}

interface PostgresReport {
  readonly server: { version: string; synchronousCommit: string; pool: number; place: string };
  /** rawSingle: raw node-postgres, `pool` connections, one insert per transaction. */
  b1?: { record: LoadResult; typename: LoadResult; rawSingle: number; peakRssMb: number };
  /** rawBatch: raw node-postgres, BATCH_CONNECTIONS connections, BATCH_SIZE rows per transaction. */
  b2?: { batch: BatchLoad; eventsPerSecond: number; rawBatch: number; inProcess: number };
  b3?: { portal: LoadResult; bareHttp: LoadResult; cpu: { bare: number; portal: number }; bareExecute: number; bareFull: number; inProcess: PortalInProcess };
  /** The same load on one replica, and split evenly across two on the same database. */
  replicas?: { b1?: { one: LoadResult; two: LoadResult }; b2?: { one: LoadResult; two: LoadResult } };
}

/** Waits until no charge has been added for a second. */
async function chargesSettled(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const count = async () => (await client.query<{ n: string }>("select count(*) as n from usage_charges")).rows[0]!.n;
    for (let last = await count(), now = ""; ; last = now) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      now = await count();
      if (now === last) return;
    }
  } finally {
    await client.end();
  }
}

async function postgresServer(url: string) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const version = (await client.query<{ server_version: string }>("show server_version")).rows[0]!.server_version;
    const synchronousCommit = (await client.query<{ synchronous_commit: string }>("show synchronous_commit")).rows[0]!.synchronous_commit;
    return { version, synchronousCommit, pool: PG_POOL, place: benchServerPlace() };
  } finally {
    await client.end();
  }
}

/**
 * B1-B3 on PostgreSQL, on a database filled from `smallPath` before any server wrote to it, then
 * the same B1 and B2 load on one replica and split across two; the ledger is checked after.
 */
async function postgresBenchmarks(smallPath: string, small: GenerateSummary, operatorKey: string, report: Report): Promise<void> {
  const database = await createBenchDatabase();
  say(`PostgreSQL: database ${database.name} on ${benchServerPlace()}, ${PG_POOL} connections per server`);
  try {
    const copied = await fillFromSqlite(smallPath, database.url);
    say(`  filled from the SQLite database: ${copied.accounts} accounts, ${copied.credit_lots} lots, ${copied.flex_packs} packs`);
    const pgReport: PostgresReport = { server: await postgresServer(database.url) };
    report.pg = pgReport;
    const acknowledged = { count: 0 };
    const target = { databaseUrl: database.url, databasePool: PG_POOL };
    await withServer("pg", target, operatorKey, async (server) => {
      const keys = await keysFor(server, operatorKey);
      if (ONLY.has("B1")) {
        say(`PG B1: single-event recordUsage, ${CONNECTIONS} connections`);
        const [typename, record] = await measureB1(server, keys, small, acknowledged);
        const peakRssMb = server.peakRssMb();
        const rawSingle = (await rawPostgresInsertRate(database.url, 1, PG_POOL, SETTINGS.rawMs)).rowsPerSecond;
        say(`  raw node-postgres, ${PG_POOL} connections, one insert per transaction: ${fmt(rawSingle)}/s; server peak RSS ${fmt(peakRssMb)} MB`);
        pgReport.b1 = { record, typename, rawSingle, peakRssMb };
      }
      if (ONLY.has("B2")) {
        say(`PG B2: recordUsageBatch, ${BATCH_SIZE} events per request, ${BATCH_CONNECTIONS} connections`);
        const batch = await measureB2(server, keys, small, acknowledged);
        const rawBatch = (await rawPostgresInsertRate(database.url, BATCH_SIZE, BATCH_CONNECTIONS, SETTINGS.rawMs)).rowsPerSecond;
        say(`  ${fmt(batch.perSecond * BATCH_SIZE)} events/s; raw node-postgres, ${BATCH_CONNECTIONS} connections, ${BATCH_SIZE} rows per transaction: ${fmt(rawBatch)} rows/s`);
        pgReport.b2 = { batch, eventsPerSecond: batch.perSecond * BATCH_SIZE, rawBatch, inProcess: Number.NaN };
      }
      if (ONLY.has("B3")) {
        say(`PG B3: partner portal accounts(first: 50), ${CONNECTIONS} connections`);
        // Batches the load gave up on are still being rated: the page's data is read once they are stored.
        await chargesSettled(database.url);
        const b3 = await measureB3(server, keys, await loadPortalDataFromPostgres(database.url, 1), dirname(smallPath), report.checks, "pgB3SameAnswer");
        pgReport.b3 = { ...b3, inProcess: { schemaExecute: Number.NaN, reads: Number.NaN } };
      }
      if (ONLY.has("B1") || ONLY.has("B2")) {
        // A second server on the same database; the first keeps its warm caches and its keys work on both.
        await withServer("pg-replica-2", target, operatorKey, async (second) => {
          const split = (options: LoadOptions): LoadOptions[] => [
            { ...options, connections: Math.ceil(options.connections / 2) },
            { ...options, url: second.url, connections: Math.floor(options.connections / 2) },
          ];
          const replicas: NonNullable<PostgresReport["replicas"]> = {};
          if (ONLY.has("B1")) {
            say(`PG B1 on 1 replica, then split across 2 (${CONNECTIONS} connections in all)`);
            const single: LoadOptions = { url: server.url, key: keys.metering, connections: CONNECTIONS, seconds: SETTINGS.seconds, body: recordBody(small) };
            const [one, two] = await measurePair(["1 replica", "2 replicas"], [single, split(single)], [acknowledged, acknowledged]);
            replicas.b1 = { one, two };
          }
          if (ONLY.has("B2")) {
            say(`PG B2 on 1 replica, then split across 2 (${REPLICA_BATCH_CONNECTIONS} connections in all)`);
            const single: LoadOptions = { url: server.url, key: keys.metering, connections: REPLICA_BATCH_CONNECTIONS, seconds: SETTINGS.batchSeconds, body: batchBody(small), accept: batchAccepted };
            const requests = [{ count: 0 }, { count: 0 }] as const;
            const [one, two] = await measurePair(["1 replica", "2 replicas"], [single, split(single)], requests);
            acknowledged.count += (requests[0].count + requests[1].count) * BATCH_SIZE;
            replicas.b2 = { one, two };
          }
          pgReport.replicas = replicas;
        });
      }
    });
    // With the servers stopped: where the time goes without HTTP, then the ledger.
    const store = await PgStore.open({ url: database.url, poolSize: PG_POOL });
    try {
      if (pgReport.b2) {
        pgReport.b2.inProcess = await ratingInProcess(store, { first: small.firstAccountId, last: small.lastAccountId }, BATCH_SIZE, SETTINGS.rawMs);
        say(`  PG rating in process: ${fmt(pgReport.b2.inProcess)} events/s`);
      }
      if (ONLY.has("B6")) {
        const b6 = await tieredAgainstLegacy(store, BATCH_SIZE, SETTINGS.rawMs);
        say(`  PG B6: rating in process, ${BATCH_SIZE}-event batches: LEGACY ${fmt(b6.legacy)} events/s, PAID prepay ${fmt(b6.tiered)} events/s`);
        report.b6 = { ...report.b6, postgres: b6 };
      }
      if (pgReport.b3) {
        pgReport.b3.inProcess = await portalInProcess(store, 1, SETTINGS.bareMs);
        say(`  PG portal in process: the server's schema ${fmt(pgReport.b3.inProcess.schemaExecute)}/s, the page's reads alone ${fmt(pgReport.b3.inProcess.reads)}/s`);
      }
      const ledger = await checkLedger(store, Number((await store.pool.query<{ n: string }>("select count(*) as n from usage_charges")).rows[0]!.n));
      report.checks.postgres = { ...ledger, acknowledged: acknowledged.count };
      say(`PostgreSQL database: ${fmt(ledger.charges)} charges for ${fmt(acknowledged.count)} acknowledged events, ledger drift ${ledger.drift}`);
      assertLedger("PostgreSQL", ledger, acknowledged.count);
    } finally {
      await store.close();
    }
  } finally {
    if (args.keep) say(`kept the PostgreSQL database ${database.url}`);
    else await database.drop();
  }
}

async function main(): Promise<void> {
  const started = Date.now();
  const work = mkdtempSync(join(tmpdir(), "flexgate-bench-"));
  /** A copy of a database a server uses: for the in-process measurements to work on alone, and for B2's second load to start from. */
  const copyOf = async (path: string, name: string) => {
    const source = openDatabase({ path, synchronous: "NORMAL" });
    await source.$client.backup(join(work, name));
    source.$client.close();
    return join(work, name);
  };
  mkdirSync(PROFILES, { recursive: true });
  const operatorKey = `bench-operator-${randomBytes(16).toString("hex")}`;
  const report: Report = { checks: {} };
  const info = machine();
  say(`Flexgate benchmarks (${QUICK ? "quick" : "full"}${POSTGRES ? ", SQLite and PostgreSQL" : ""}): ${info.nproc} × ${info.cpu}, Node ${info.node}; work folder ${work}`);
  // At most two servers' pools at once, or one and the raw baseline's; plus the benchmark's own.
  if (POSTGRES) await assertServerFits(Math.max(2 * PG_POOL, PG_POOL + Math.max(PG_POOL, BATCH_CONNECTIONS)) + 2);
  if (!args.tsx) {
    const compiling = Date.now();
    buildServer();
    say(`compiled the server in ${fmt((Date.now() - compiling) / 1000, 1)} s`);
  }

  try {
    if (ONLY.has("B1") || ONLY.has("B2") || ONLY.has("B3") || ONLY.has("B6")) {
      const smallPath = join(work, "small.sqlite");
      const small = await generateDatabase({ path: smallPath, accounts: SMALL.accounts, resellers: SMALL.resellers, charges: 0, verify: "none", progress: false });
      // PostgreSQL starts from the same data: a copy made before the SQLite server writes to it.
      const pgStart = POSTGRES ? await copyOf(smallPath, "small-postgres.sqlite") : null;
      const acknowledged = { count: 0 };
      await withServer("small", { dbPath: smallPath }, operatorKey, async (server) => {
        const keys = await keysFor(server, operatorKey);
        if (ONLY.has("B1")) {
          say(`B1: single-event recordUsage, ${CONNECTIONS} connections`);
          const [typename, record] = await measureB1(server, keys, small, acknowledged);
          const peakRssMb = server.peakRssMb();
          const rawSingle = rawInsertRate(work, 1, SETTINGS.rawMs).rowsPerSecond;
          say(`  raw better-sqlite3, one durable insert per transaction: ${fmt(rawSingle)}/s; server peak RSS ${fmt(peakRssMb)} MB`);
          report.b1 = { record, typename, rawSingle, peakRssMb };
        }
        if (ONLY.has("B2")) {
          say(`B2: recordUsageBatch, ${BATCH_SIZE} events per request, ${BATCH_CONNECTIONS} connections`);
          // The CloudEvents load starts from the database the GraphQL load found, on a server of
          // its own: every batch grows the ledger, and the index of its random event ids costs
          // more per event as it grows (whichever of the two loads ran second on one server
          // answered 30–45% fewer events per second).
          const ingestPath = await copyOf(smallPath, "small-ingest.sqlite");
          const batch = await measureB2(server, keys, small, acknowledged);
          const ingested = { count: 0 };
          const ingest = await withServer("ingest", { dbPath: ingestPath }, operatorKey, (copy) => measureIngest(copy, keys, small, ingested));
          report.checks.ingest = await verifySqliteLedger("the small database's copy for /v1/events", ingestPath, ingested.count);
          const rawBatch = rawInsertRate(work, BATCH_SIZE, SETTINGS.rawMs).rowsPerSecond;
          // The same rating on a copy of the server's database, in this process: what B2 would
          // be with a free transport.
          const accounts = { first: small.firstAccountId, last: small.lastAccountId };
          const inProcess = await withSqliteStore(await copyOf(smallPath, "small-copy.sqlite"), (store) => ratingInProcess(store, accounts, BATCH_SIZE, SETTINGS.rawMs));
          // The same with ids that sort by time, as a pipeline minting UUIDv7s or ULIDs sends them.
          const inProcessOrderedIds = await withSqliteStore(await copyOf(smallPath, "small-ordered.sqlite"), (store) =>
            ratingInProcess(store, accounts, BATCH_SIZE, SETTINGS.rawMs, { eventId: uuidV7 }),
          );
          // The ledger's rows alone on this schema, group by group: the ceiling of the figures above.
          const ledgerAppends = ledgerAppendRate(await copyOf(smallPath, "small-appends.sqlite"), accounts, DEFAULT_BATCHER_OPTIONS.maxGroupSize, SETTINGS.rawMs);
          say(`  ${fmt(batch.perSecond * BATCH_SIZE)} events/s; raw better-sqlite3, ${BATCH_SIZE} rows per durable transaction: ${fmt(rawBatch)} rows/s; rating in process: ${fmt(inProcess)} events/s, with time-ordered event ids ${fmt(inProcessOrderedIds)}; the ledger's rows alone ${fmt(ledgerAppends)} events/s`);
          report.b2 = { batch, eventsPerSecond: batch.perSecond * BATCH_SIZE, ingest, rawBatch, inProcess, inProcessOrderedIds, ledgerAppends };
        }
        if (ONLY.has("B6")) {
          const b6 = await withSqliteStore(await copyOf(smallPath, "small-tiered.sqlite"), (store) => tieredAgainstLegacy(store, BATCH_SIZE, SETTINGS.rawMs));
          say(`B6: rating in process, ${BATCH_SIZE}-event batches: LEGACY ${fmt(b6.legacy)} events/s, PAID prepay ${fmt(b6.tiered)} events/s`);
          report.b6 = { ...report.b6, sqlite: b6 };
        }
        if (ONLY.has("B3")) {
          say(`B3: partner portal accounts(first: 50), ${CONNECTIONS} connections`);
          const b3 = await measureB3(server, keys, loadPortalData(smallPath, 1), work, report.checks, "b3SameAnswer");
          const inProcess = await withSqliteStore(await copyOf(smallPath, "small-portal.sqlite"), (store) => portalInProcess(store, 1, SETTINGS.bareMs));
          say(`  in process: the server's schema ${fmt(inProcess.schemaExecute)}/s, the page's reads alone ${fmt(inProcess.reads)}/s`);
          report.b3 = { ...b3, inProcess };
        }
      });
      report.checks.small = await verifySqliteLedger("small database", smallPath, acknowledged.count);
      if (pgStart) await postgresBenchmarks(pgStart, small, operatorKey, report);
    }

    if (ONLY.has("B4")) {
      const largePath = join(work, "large.sqlite");
      say(`B4: generating ${fmt(SETTINGS.largeCharges)} charges across ${fmt(SETTINGS.largeAccounts)} accounts`);
      const generated = await generateDatabase({ path: largePath, accounts: SETTINGS.largeAccounts, charges: SETTINGS.largeCharges, verify: "full" });
      say(`  generated in ${fmt(generated.seconds, 1)} s, verified in ${fmt(generated.verifySeconds ?? 0, 1)} s (drift ${generated.drift}); ${fmt(generated.bytes / 1e6, 1)} MB, ${fmt(generated.mbPerMillionCharges ?? 0, 1)} MB per million charges`);
      if (generated.drift !== 0) throw new Error("the generated ledger does not balance");
      const acknowledged = { count: 0 };
      await withServer("large", { dbPath: largePath }, operatorKey, async (server) => {
        const keys = await keysFor(server, operatorKey);
        say(`B4: B1 and B3 on the large database`);
        const [typename, record] = await measureB1(server, keys, generated, acknowledged);
        const peakRssMb = server.peakRssMb();
        const portal = await measure("portal query", { url: server.url, key: keys.partner, connections: CONNECTIONS, seconds: SETTINGS.seconds, body: () => PORTAL }, { count: 0 });
        report.b4 = { generated, record, typename, portal, peakRssMb };
      });
      const ledger = await withSqliteStore(largePath, (store, db) => checkLedger(store, sqliteCharges(db)));
      report.checks.large = { ...ledger, acknowledged: acknowledged.count, generated: generated.charges };
      say(`large database: ${fmt(ledger.charges)} charges (${fmt(generated.charges)} generated + ${fmt(acknowledged.count)} acknowledged), ledger drift ${ledger.drift}, verified in ${fmt(ledger.verifySeconds, 1)} s`);
      assertLedger("large SQLite", ledger, generated.charges + acknowledged.count);
    }
  } finally {
    if (!args.keep) rmSync(work, { recursive: true, force: true });
  }

  const table = renderTable(report, info);
  console.log(table);
  const seconds = (Date.now() - started) / 1000;
  console.log(`\n${QUICK ? "quick" : "full"} run, ${fmt(seconds)} s in all`);
  writeFileSync(
    join(RESULTS, "latest.json"),
    `${JSON.stringify({ at: new Date().toISOString(), mode: QUICK ? "quick" : "full", stores: POSTGRES ? ["sqlite", "postgres"] : ["sqlite"], seconds, settings: SETTINGS, connections: CONNECTIONS, batchConnections: BATCH_CONNECTIONS, batchSize: BATCH_SIZE, machine: info, report, table }, null, 2)}\n`,
  );
}

/** Two decimals, or three when two would round across the target's threshold. */
const ratioText = (ratio: number, threshold: number) => fmt(ratio, Math.abs(ratio - threshold) < 0.005 ? 3 : 2);

function renderTable(report: Report, info: ReturnType<typeof machine>): string {
  const rows: string[][] = [];
  const mark = (met: boolean) => (met ? "yes" : "**no**");
  const latency = (r: LoadResult) => `p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms`;
  const { b1, b2, b3, b4 } = report;
  if (b1) {
    const ratio = b1.record.perSecond / b1.typename.perSecond;
    rows.push(["B1", `recordUsage, 1 event per request, ${CONNECTIONS} connections`, `${fmt(b1.record.perSecond)} events/s (${latency(b1.record)})`, `\`{ __typename }\`, same server and key: ${fmt(b1.typename.perSecond)} req/s`, ratioText(ratio, 0.7), "≥ 0.70", mark(ratio >= 0.7)]);
    const raw = b1.record.perSecond / b1.rawSingle;
    rows.push(["B1", "the same, against SQLite alone", `${fmt(b1.record.perSecond)} events/s`, `raw better-sqlite3, 1 insert per durable transaction: ${fmt(b1.rawSingle)}/s`, ratioText(raw, 1), "> 1", mark(raw > 1)]);
  }
  if (b2) {
    const ingested = b2.ingest.perSecond * BATCH_SIZE;
    rows.push(["B2", `recordUsageBatch, ${BATCH_SIZE} events per request, ${BATCH_CONNECTIONS} connections`, `${fmt(b2.eventsPerSecond)} events/s (${fmt(b2.batch.perSecond, 1)} req/s, ${latency(b2.batch)})`, `raw better-sqlite3, ${BATCH_SIZE} inserts per durable transaction: ${fmt(b2.rawBatch)} rows/s`, fmt(b2.eventsPerSecond / b2.rawBatch, 2), "≥ 30,000 events/s", mark(b2.eventsPerSecond >= 30_000)]);
    rows.push(["B2", `the same events as CloudEvents, POST /v1/events, ${BATCH_CONNECTIONS} connections`, `${fmt(ingested)} events/s (${fmt(b2.ingest.perSecond, 1)} req/s, ${latency(b2.ingest)})`, `raw better-sqlite3, ${BATCH_SIZE} inserts per durable transaction: ${fmt(b2.rawBatch)} rows/s`, fmt(ingested / b2.rawBatch, 2), "≥ 30,000 events/s", mark(ingested >= 30_000)]);
    rows.push(["B2", "the same two loads, events per CPU second of the server process (robust to other work on the machine)", `GraphQL ${fmt(b2.batch.eventsPerCpuSecond)}; /v1/events ${fmt(b2.ingest.eventsPerCpuSecond)}`, "", "", "", ""]);
    rows.push(["B2", `the rating service alone, ${BATCH_SIZE} events per call, 4 calls at once, in the benchmark process (no HTTP, no GraphQL)`, `${fmt(b2.inProcess)} events/s`, "what B2 would be with a free transport", "", "", ""]);
    rows.push(["B2", "the same, with event ids that sort by time (UUIDv7), on a copy of the same database", `${fmt(b2.inProcessOrderedIds)} events/s`, `random (v4) ids: ${fmt(b2.inProcess)} events/s`, fmt(b2.inProcessOrderedIds / b2.inProcess, 2), "", ""]);
    rows.push(["B2", `the ledger's rows alone: a charge and its Flex pack part per event, every index, ${fmt(DEFAULT_BATCHER_OPTIONS.maxGroupSize)} events per durable transaction, random ids, on a copy of the same database (no reads, no rating, no HTTP)`, `${fmt(b2.ledgerAppends)} events/s`, "the ceiling of every B2 figure on this schema and machine", "", "", ""]);
  }
  if (b3) {
    const ratio = b3.portal.perSecond / b3.bareHttp.perSecond;
    rows.push(["B3", `partner portal \`accounts(first: 50)\` (balance, reseller, lots, packs), PARTNER key, ${CONNECTIONS} connections`, `${fmt(b3.portal.perSecond)} req/s (${latency(b3.portal)})`, `bare graphql-js \`execute\` behind bare node:http, in-memory data, same load: ${fmt(b3.bareHttp.perSecond)} req/s (${latency(b3.bareHttp)})`, ratioText(ratio, 0.6), "≥ 0.60", mark(ratio >= 0.6)]);
    rows.push(["B3", "the same, per CPU second of each server process (robust to other work on the machine)", `${fmt(b3.cpu.portal)} req per CPU s`, `bare graphql-js behind node:http: ${fmt(b3.cpu.bare)} req per CPU s`, fmt(b3.cpu.portal / b3.cpu.bare, 2), "", ""]);
    rows.push(["B3", "bare graphql-js alone, in the benchmark process (no HTTP)", `${fmt(b3.bareExecute)}/s`, `with parse + validate: ${fmt(b3.bareFull)}/s`, "", "", ""]);
    rows.push(["B3", "the server's schema alone, in the benchmark process (no HTTP, no Apollo)", `${fmt(b3.inProcess.schemaExecute)}/s`, `bare graphql-js in process: ${fmt(b3.bareExecute)}/s`, fmt(b3.inProcess.schemaExecute / b3.bareExecute, 2), "", ""]);
    rows.push(["B3", "the page's store reads alone, in the benchmark process", `${fmt(b3.inProcess.reads)}/s`, `bare graphql-js in process: ${fmt(b3.bareExecute)}/s`, fmt(b3.inProcess.reads / b3.bareExecute, 2), "", ""]);
  }
  if (b4) {
    const size = `${fmt(b4.generated.charges)} charges, ${fmt(b4.generated.accounts)} accounts`;
    if (b1) {
      const ratio = b4.record.perSecond / b1.record.perSecond;
      rows.push(["B4", `B1 on ${size}`, `${fmt(b4.record.perSecond)} events/s (${latency(b4.record)}; \`{ __typename }\` ${fmt(b4.typename.perSecond)} req/s, ${fmt(b4.record.perSecond / b4.typename.perSecond, 2)}×)`, `B1 on the small database: ${fmt(b1.record.perSecond)} events/s`, ratioText(ratio, 1 / 1.5), "≥ 0.67 (within 1.5×)", mark(ratio >= 1 / 1.5)]);
    } else {
      rows.push(["B4", `B1 on ${size}`, `${fmt(b4.record.perSecond)} events/s (${latency(b4.record)})`, `\`{ __typename }\`: ${fmt(b4.typename.perSecond)} req/s`, fmt(b4.record.perSecond / b4.typename.perSecond, 2), "", ""]);
    }
    if (b3) {
      const ratio = b4.portal.perSecond / b3.portal.perSecond;
      rows.push(["B4", `B3 on ${size}`, `${fmt(b4.portal.perSecond)} req/s (${latency(b4.portal)})`, `B3 on the small database: ${fmt(b3.portal.perSecond)} req/s`, ratioText(ratio, 1 / 1.5), "≥ 0.67 (within 1.5×)", mark(ratio >= 1 / 1.5)]);
    } else {
      rows.push(["B4", `B3 on ${size}`, `${fmt(b4.portal.perSecond)} req/s (${latency(b4.portal)})`, "", "", "", ""]);
    }
    rows.push(["B4", "database size", `${fmt(b4.generated.mbPerMillionCharges ?? 0, 0)} MB per million charges (${fmt(b4.generated.bytes / 1e6, 0)} MB file)`, `generated in ${fmt(b4.generated.seconds, 1)} s, verified in ${fmt(b4.generated.verifySeconds ?? 0, 1)} s`, "", "", ""]);
  }
  if (b1) {
    rows.push(["B5", "peak RSS of the server during B1 (VmHWM)", `${fmt(b1.peakRssMb)} MB`, b4 ? `large database: ${fmt(b4.peakRssMb)} MB` : "", "", "< 250 MB", mark(b1.peakRssMb < 250 && (!b4 || b4.peakRssMb < 250))]);
  }
  for (const [engine, b6] of [["SQLite", report.b6?.sqlite], ["PostgreSQL", report.b6?.postgres]] as const) {
    if (!b6) continue;
    const ratio = b6.tiered / b6.legacy;
    rows.push(["B6", `${engine}: rating under PAID prepay plans (charged units, remainders), ${BATCH_SIZE}-event batches, in process`, `${fmt(b6.tiered)} events/s`, `the same batches under LEGACY rules: ${fmt(b6.legacy)} events/s`, ratioText(ratio, 0.85), "≥ 0.85 (within 15%)", mark(ratio >= 0.85)]);
  }
  if (report.pg) rows.push(...postgresRows(report.pg, { b1, b2, b3 }, mark, latency));
  const header = ["", "Measurement", "Flexgate", "Baseline, same run", "Ratio", "Target", "Met"];
  const pgLine = report.pg
    ? ` PostgreSQL ${report.pg.server.version} on the same machine (${report.pg.server.place}), synchronous_commit=${report.pg.server.synchronousCommit}, ${report.pg.server.pool} connections per server (FLEXGATE_DATABASE_POOL).`
    : "";
  const lines = [
    `Machine: ${info.nproc} × ${info.cpu}, ${info.memoryGb} GB, Node ${info.node}, commit ${info.commit}; server ${args.tsx ? "run through tsx" : "compiled, as npm start runs it"}; SQLite WAL, server synchronous=${SYNCHRONOUS}${NODE_FLAGS.length ? `; server node options ${NODE_FLAGS.join(" ")}` : ""}.${pgLine}`,
    "",
    `| ${header.join(" | ")} |`,
    `|${header.map(() => "---").join("|")}|`,
    ...rows.map((row) => `| ${row.join(" | ")} |`),
  ];
  return lines.join("\n");
}

/** The PostgreSQL rows, each next to its SQLite counterpart where the run has one. */
function postgresRows(pg: PostgresReport, sqlite: Pick<Report, "b1" | "b2" | "b3">, mark: (met: boolean) => string, latency: (r: LoadResult) => string): string[][] {
  const rows: string[][] = [];
  const onSqlite = (value: number | undefined, unit: string) => (value === undefined ? "" : `; SQLite, same run: ${fmt(value)} ${unit}`);
  if (pg.b1) {
    const ratio = pg.b1.record.perSecond / pg.b1.typename.perSecond;
    rows.push([
      "PG B1",
      `recordUsage on PostgreSQL, 1 event per request, ${CONNECTIONS} connections`,
      `${fmt(pg.b1.record.perSecond)} events/s (${latency(pg.b1.record)})`,
      `\`{ __typename }\`, same server and key: ${fmt(pg.b1.typename.perSecond)} req/s${onSqlite(sqlite.b1?.record.perSecond, "events/s")}`,
      fmt(ratio, 2),
      "≥ 1,000 events/s",
      mark(pg.b1.record.perSecond >= 1000),
    ]);
    rows.push(["PG B1", "the same, against PostgreSQL alone", `${fmt(pg.b1.record.perSecond)} events/s`, `raw node-postgres, ${pg.server.pool} connections, 1 insert per transaction: ${fmt(pg.b1.rawSingle)}/s`, fmt(pg.b1.record.perSecond / pg.b1.rawSingle, 2), "", ""]);
  }
  if (pg.b2) {
    rows.push([
      "PG B2",
      `recordUsageBatch on PostgreSQL, ${BATCH_SIZE} events per request, ${BATCH_CONNECTIONS} connections`,
      `${fmt(pg.b2.eventsPerSecond)} events/s (${fmt(pg.b2.batch.perSecond, 1)} req/s, ${latency(pg.b2.batch)})`,
      `raw node-postgres, ${BATCH_CONNECTIONS} connections, ${BATCH_SIZE} rows per transaction: ${fmt(pg.b2.rawBatch)} rows/s${onSqlite(sqlite.b2?.eventsPerSecond, "events/s")}`,
      fmt(pg.b2.eventsPerSecond / pg.b2.rawBatch, 2),
      "≥ 5,000 events/s",
      mark(pg.b2.eventsPerSecond >= 5000),
    ]);
    rows.push(["PG B2", `the rating service alone on PostgreSQL, ${BATCH_SIZE} events per call, 4 calls at once, in the benchmark process`, `${fmt(pg.b2.inProcess)} events/s`, "what PG B2 would be with a free transport", "", "", ""]);
  }
  if (pg.b3) {
    const ratio = pg.b3.portal.perSecond / pg.b3.bareHttp.perSecond;
    rows.push([
      "PG B3",
      `partner portal \`accounts(first: 50)\` on PostgreSQL, ${CONNECTIONS} connections`,
      `${fmt(pg.b3.portal.perSecond)} req/s (${latency(pg.b3.portal)})`,
      `bare graphql-js \`execute\` behind bare node:http, in-memory data, same load: ${fmt(pg.b3.bareHttp.perSecond)} req/s${onSqlite(sqlite.b3?.portal.perSecond, "req/s")}`,
      ratioText(ratio, 0.6),
      "≥ 0.60",
      mark(ratio >= 0.6),
    ]);
    rows.push(["PG B3", "the same, per CPU second of each server process (PostgreSQL's own not counted)", `${fmt(pg.b3.cpu.portal)} req per CPU s`, `bare graphql-js behind node:http: ${fmt(pg.b3.cpu.bare)} req per CPU s`, fmt(pg.b3.cpu.portal / pg.b3.cpu.bare, 2), "", ""]);
    rows.push(["PG B3", "the server's schema alone on PostgreSQL, in the benchmark process", `${fmt(pg.b3.inProcess.schemaExecute)}/s`, `bare graphql-js in process: ${fmt(pg.b3.bareExecute)}/s`, fmt(pg.b3.inProcess.schemaExecute / pg.b3.bareExecute, 2), "", ""]);
    rows.push(["PG B3", "the page's store reads alone on PostgreSQL, in the benchmark process", `${fmt(pg.b3.inProcess.reads)}/s`, `bare graphql-js in process: ${fmt(pg.b3.bareExecute)}/s`, fmt(pg.b3.inProcess.reads / pg.b3.bareExecute, 2), "", ""]);
  }
  const replicas = pg.replicas;
  if (replicas?.b1) {
    const { one, two } = replicas.b1;
    rows.push(["PG R", `PG B1 on 2 replicas, ${CONNECTIONS / 2} connections each`, `${fmt(two.perSecond)} events/s (${latency(two)})`, `1 replica, ${CONNECTIONS} connections: ${fmt(one.perSecond)} events/s (${latency(one)})`, fmt(two.perSecond / one.perSecond, 2), "2 vs 1 replica", ""]);
  }
  if (replicas?.b2) {
    const { one, two } = replicas.b2;
    rows.push(["PG R", `PG B2 on 2 replicas, ${REPLICA_BATCH_CONNECTIONS / 2} connections each`, `${fmt(two.perSecond * BATCH_SIZE)} events/s (${latency(two)})`, `1 replica, ${REPLICA_BATCH_CONNECTIONS} connections: ${fmt(one.perSecond * BATCH_SIZE)} events/s (${latency(one)})`, fmt(two.perSecond / one.perSecond, 2), "2 vs 1 replica", ""]);
  }
  if (pg.b1) rows.push(["PG B5", "peak RSS of the PostgreSQL-backed server during PG B1 (VmHWM)", `${fmt(pg.b1.peakRssMb)} MB`, "", "", "", ""]);
  return rows;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
