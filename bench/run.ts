/**
 * Flexgate benchmarks: the real server in a child process, driven over HTTP with autocannon,
 * every figure next to a baseline measured in the same run (the machine is shared and noisy, so
 * the ratios matter more than the absolute numbers).
 *
 *   npm run bench                 full run (about 3 minutes, a 1,000,000-charge database)
 *   npm run bench -- --quick      short run (well under a minute, a 100,000-charge database)
 *   npm run bench -- --profile    also write a CPU profile of each server and summarise it
 *   npm run bench -- --only B1,B3 run some of B1 (with B5), B2, B3, B4
 *   npm run bench -- --tsx        run the server from its TypeScript sources through tsx
 *   npm run bench -- --synchronous NORMAL   run the server with FLEXGATE_SYNCHRONOUS=NORMAL
 *
 * The server is compiled from the working tree first (bench/results/dist), as `npm start` does.
 * Prints a markdown table and writes bench/results/latest.json.
 */
import { SqliteStore } from "../server/store/sqlite/store.js";
import { execSync } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { cpus } from "node:os";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { DEFAULT_RULES } from "../server/services/context.js";
import { createServices } from "../server/services/index.js";
import { openDatabase } from "../server/store/sqlite/database.js";
import { bareGraphql, loadPortalData, PORTAL_QUERY, portalInProcess, type PortalInProcess, ratingInProcess, rawInsertRate } from "./baselines.js";
import { generateDatabase, type GenerateSummary } from "./generate.js";
import { printProfile, summariseProfile } from "./profile-summary.js";
import { buildServer, createKey, graphql, load, type LoadResult, mainThreadProfile, REPO_ROOT, type RunningServer, startServer } from "./server.js";

const { values: args } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    profile: { type: "boolean", default: false },
    only: { type: "string" },
    keep: { type: "boolean", default: false },
    tsx: { type: "boolean", default: false },
    synchronous: { type: "string", default: "FULL" },
  },
});

const QUICK = args.quick!;
const SYNCHRONOUS = args.synchronous!.toUpperCase() === "NORMAL" ? "NORMAL" : "FULL";
const SETTINGS = QUICK
  ? { seconds: 2, warmupSeconds: 1, rawMs: 1000, bareMs: 1000, largeCharges: 100_000, largeAccounts: 10_000 }
  : { seconds: 10, warmupSeconds: 3, rawMs: 5000, bareMs: 3000, largeCharges: 1_000_000, largeAccounts: 10_000 };
const SMALL = { accounts: 200, resellers: 2 };
const CONNECTIONS = 32;
/** Batch clients are few and each request is large. */
const BATCH_CONNECTIONS = 4;
const BATCH_SIZE = 500;
const ONLY = new Set((args.only ?? "B1,B2,B3,B4").toUpperCase().split(",").map((part) => part.trim()));
const RESULTS = join(REPO_ROOT, "bench", "results");
const PROFILES = join(RESULTS, "profiles");

/** Functions whose inclusive time the profile summary reports. */
const PROFILE_MARKERS = ["recordGroup", "recordUsageBatch", "execute", "expressMiddleware", "requireKey", "jsonParser", "createContext", "writev", "fdatasync", "fsync"];

const RECORD = "mutation Record($input: UsageInput!) { recordUsage(input: $input) { replayed charge { id tokens } } }";
const BATCH = "mutation Batch($inputs: [UsageInput!]!) { recordUsageBatch(inputs: $inputs) { eventId replayed error { code } charge { id tokens } } }";
const TYPENAME = JSON.stringify({ query: "{ __typename }" });
const PORTAL = JSON.stringify({ query: PORTAL_QUERY });

/** Premium APIs in force today, with typical quantities in their meter units. */
const USAGE_MIX: readonly (readonly [string, string])[] = [
  ["model-derivative/simple-job", "1"],
  ["model-derivative/complex-job", "1"],
  ["design-automation/autocad", "125"],
  ["design-automation/revit", "300.5"],
  ["flow-graph-engine/processing", "1800"],
  ["reality-capture/photoscene", "120"],
];

function usageInput(accounts: GenerateSummary) {
  const [apiCode, quantity] = USAGE_MIX[Math.floor(Math.random() * USAGE_MIX.length)]!;
  const span = accounts.lastAccountId - accounts.firstAccountId + 1;
  return {
    // Random ids, as APS job ids are: the worst case for the unique index.
    eventId: randomUUID(),
    accountId: String(accounts.firstAccountId + Math.floor(Math.random() * span)),
    apiCode,
    quantity,
    outcome: "SUCCEEDED",
    occurredAt: new Date().toISOString(),
    clientId: "bench-client",
  };
}

const recordBody = (accounts: GenerateSummary) => () => JSON.stringify({ query: RECORD, variables: { input: usageInput(accounts) } });
const batchBody = (accounts: GenerateSummary) => () =>
  JSON.stringify({ query: BATCH, variables: { inputs: Array.from({ length: BATCH_SIZE }, () => usageInput(accounts)) } });
const batchAccepted = (body: string) => !body.includes('"errors"') && !body.includes('"code"');

interface Keys {
  readonly metering: string;
  readonly partner: string;
}

async function keysFor(server: RunningServer, operatorKey: string): Promise<Keys> {
  return {
    metering: await createKey(server.url, operatorKey, "METERING"),
    partner: await createKey(server.url, operatorKey, "PARTNER", 1),
  };
}

function say(message: string): void {
  process.stderr.write(`${message}\n`);
}

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

/**
 * A figure and its baseline measured in alternating slices (baseline, figure, baseline,
 * figure), each warmed up first: other tenants of a shared machine come and go within seconds,
 * and alternating spreads their noise over both sides of the ratio instead of onto one.
 */
async function measurePair(
  labels: readonly [string, string],
  options: readonly [Parameters<typeof load>[0], Parameters<typeof load>[0]],
  acknowledged: readonly [{ count: number }, { count: number }],
): Promise<[LoadResult, LoadResult]> {
  const slices = 2;
  const results: LoadResult[][] = [[], []];
  for (const side of [0, 1] as const) {
    const warm = await load({ ...options[side], seconds: SETTINGS.warmupSeconds });
    acknowledged[side].count += warm.ok;
    if (warm.failed > 0) throw new Error(`${labels[side]}: ${warm.failed} requests failed`);
  }
  for (let slice = 0; slice < slices; slice++) {
    for (const side of [0, 1] as const) {
      const result = await load({ ...options[side], seconds: options[side].seconds / slices });
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

/** Counts the charges and recomputes the whole ledger of a database the server has closed. */
async function checkLedger(path: string) {
  const db = openDatabase({ path, synchronous: "NORMAL" });
  try {
    const charges = (db.$client.prepare("select count(*) as n from usage_charges").get() as { n: number }).n;
    const started = Date.now();
    const drift = (await createServices({ store: new SqliteStore(db), clock: Date.now, rules: DEFAULT_RULES }).ledger.verify()).length;
    return { charges, drift, verifySeconds: (Date.now() - started) / 1000 };
  } finally {
    db.$client.close();
  }
}

async function withServer<T>(name: string, dbPath: string, operatorKey: string, work: (server: RunningServer) => Promise<T>): Promise<T> {
  const profileDir = join(PROFILES, name);
  if (args.profile) {
    rmSync(profileDir, { recursive: true, force: true });
    mkdirSync(profileDir, { recursive: true });
  }
  const server = await startServer({ dbPath, operatorKey, tsx: args.tsx, synchronous: SYNCHRONOUS, ...(args.profile ? { profileDir } : {}) });
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

interface Report {
  b1?: { record: LoadResult; typename: LoadResult; rawSingle: number; peakRssMb: number };
  b2?: { batch: LoadResult; eventsPerSecond: number; rawBatch: number; inProcess: number };
  b3?: { portal: LoadResult; bareExecute: number; bareFull: number; inProcess: PortalInProcess };
  b4?: { generated: GenerateSummary; record: LoadResult; typename: LoadResult; portal: LoadResult; peakRssMb: number };
  checks: Record<string, unknown>;
}

async function main(): Promise<void> {
  const started = Date.now();
  const work = mkdtempSync(join(tmpdir(), "flexgate-bench-"));
  /** A copy of a database the server used, for the in-process measurements to work on alone. */
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
  say(`Flexgate benchmarks (${QUICK ? "quick" : "full"}): ${info.nproc} × ${info.cpu}, Node ${info.node}; work folder ${work}`);
  if (!args.tsx) {
    const compiling = Date.now();
    buildServer();
    say(`compiled the server in ${fmt((Date.now() - compiling) / 1000, 1)} s`);
  }

  try {
    if (ONLY.has("B1") || ONLY.has("B2") || ONLY.has("B3")) {
      const smallPath = join(work, "small.sqlite");
      const small = await generateDatabase({ path: smallPath, accounts: SMALL.accounts, resellers: SMALL.resellers, charges: 0, verify: "none", progress: false });
      const acknowledged = { count: 0 };
      await withServer("small", smallPath, operatorKey, async (server) => {
        const keys = await keysFor(server, operatorKey);
        if (ONLY.has("B1")) {
          say(`B1: single-event recordUsage, ${CONNECTIONS} connections`);
          const [typename, record] = await measurePair(
            ["{ __typename }", "recordUsage"],
            [
              { url: server.url, key: keys.metering, connections: CONNECTIONS, seconds: SETTINGS.seconds, body: () => TYPENAME },
              { url: server.url, key: keys.metering, connections: CONNECTIONS, seconds: SETTINGS.seconds, body: recordBody(small) },
            ],
            [{ count: 0 }, acknowledged],
          );
          const peakRssMb = server.peakRssMb();
          const rawSingle = rawInsertRate(work, 1, SETTINGS.rawMs).rowsPerSecond;
          say(`  raw better-sqlite3, one durable insert per transaction: ${fmt(rawSingle)}/s; server peak RSS ${fmt(peakRssMb)} MB`);
          report.b1 = { record, typename, rawSingle, peakRssMb };
        }
        if (ONLY.has("B2")) {
          say(`B2: recordUsageBatch, ${BATCH_SIZE} events per request, ${BATCH_CONNECTIONS} connections`);
          const counted = { count: 0 };
          const batch = await measure("recordUsageBatch", { url: server.url, key: keys.metering, connections: BATCH_CONNECTIONS, seconds: SETTINGS.seconds, body: batchBody(small), accept: batchAccepted }, counted);
          acknowledged.count += counted.count * BATCH_SIZE;
          const rawBatch = rawInsertRate(work, BATCH_SIZE, SETTINGS.rawMs).rowsPerSecond;
          // The same rating on a copy of the server's database, in this process: what B2 would
          // be with a free transport.
          const inProcess = await ratingInProcess(await copyOf(smallPath, "small-copy.sqlite"), { first: small.firstAccountId, last: small.lastAccountId }, BATCH_SIZE, SETTINGS.rawMs);
          say(`  ${fmt(batch.perSecond * BATCH_SIZE)} events/s; raw better-sqlite3, ${BATCH_SIZE} rows per durable transaction: ${fmt(rawBatch)} rows/s; rating in process: ${fmt(inProcess)} events/s`);
          report.b2 = { batch, eventsPerSecond: batch.perSecond * BATCH_SIZE, rawBatch, inProcess };
        }
        if (ONLY.has("B3")) {
          say(`B3: partner portal accounts(first: 50), ${CONNECTIONS} connections`);
          const portal = await measure("portal query", { url: server.url, key: keys.partner, connections: CONNECTIONS, seconds: SETTINGS.seconds, body: () => PORTAL }, { count: 0 });
          const bare = bareGraphql(loadPortalData(smallPath, 1));
          // The same answer from both, so the comparison is like for like.
          const served = await graphql<unknown>(server.url, keys.partner, PORTAL_QUERY);
          report.checks.b3SameAnswer = JSON.stringify(served) === JSON.stringify(bare.result().data);
          const bareExecute = bare.executeRate(SETTINGS.bareMs);
          const bareFull = bare.fullRate(SETTINGS.bareMs);
          say(`  bare graphql-js: execute ${fmt(bareExecute)}/s, parse+validate+execute ${fmt(bareFull)}/s; same answer: ${report.checks.b3SameAnswer}`);
          const inProcess = await portalInProcess(await copyOf(smallPath, "small-portal.sqlite"), 1, SETTINGS.bareMs);
          say(`  in process: the server's schema ${fmt(inProcess.schemaExecute)}/s, the page's reads alone ${fmt(inProcess.reads)}/s`);
          report.b3 = { portal, bareExecute, bareFull, inProcess };
        }
      });
      const ledger = await checkLedger(smallPath);
      report.checks.small = { ...ledger, acknowledged: acknowledged.count };
      say(`small database: ${fmt(ledger.charges)} charges for ${fmt(acknowledged.count)} acknowledged events, ledger drift ${ledger.drift}`);
      if (ledger.drift !== 0) throw new Error("the ledger does not balance after the benchmark");
      if (ledger.charges < acknowledged.count) throw new Error("acknowledged events are missing from the database");
    }

    if (ONLY.has("B4")) {
      const largePath = join(work, "large.sqlite");
      say(`B4: generating ${fmt(SETTINGS.largeCharges)} charges across ${fmt(SETTINGS.largeAccounts)} accounts`);
      const generated = await generateDatabase({ path: largePath, accounts: SETTINGS.largeAccounts, charges: SETTINGS.largeCharges, verify: "full" });
      say(`  generated in ${fmt(generated.seconds, 1)} s, verified in ${fmt(generated.verifySeconds ?? 0, 1)} s (drift ${generated.drift}); ${fmt(generated.bytes / 1e6, 1)} MB, ${fmt(generated.mbPerMillionCharges ?? 0, 1)} MB per million charges`);
      if (generated.drift !== 0) throw new Error("the generated ledger does not balance");
      const acknowledged = { count: 0 };
      await withServer("large", largePath, operatorKey, async (server) => {
        const keys = await keysFor(server, operatorKey);
        say(`B4: B1 and B3 on the large database`);
        const [typename, record] = await measurePair(
          ["{ __typename }", "recordUsage"],
          [
            { url: server.url, key: keys.metering, connections: CONNECTIONS, seconds: SETTINGS.seconds, body: () => TYPENAME },
            { url: server.url, key: keys.metering, connections: CONNECTIONS, seconds: SETTINGS.seconds, body: recordBody(generated) },
          ],
          [{ count: 0 }, acknowledged],
        );
        const peakRssMb = server.peakRssMb();
        const portal = await measure("portal query", { url: server.url, key: keys.partner, connections: CONNECTIONS, seconds: SETTINGS.seconds, body: () => PORTAL }, { count: 0 });
        report.b4 = { generated, record, typename, portal, peakRssMb };
      });
      const ledger = await checkLedger(largePath);
      report.checks.large = { ...ledger, acknowledged: acknowledged.count, generated: generated.charges };
      say(`large database: ${fmt(ledger.charges)} charges (${fmt(generated.charges)} generated + ${fmt(acknowledged.count)} acknowledged), ledger drift ${ledger.drift}, verified in ${fmt(ledger.verifySeconds, 1)} s`);
      if (ledger.drift !== 0) throw new Error("the ledger does not balance after the benchmark");
      if (ledger.charges < generated.charges + acknowledged.count) throw new Error("acknowledged events are missing from the database");
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
    `${JSON.stringify({ at: new Date().toISOString(), mode: QUICK ? "quick" : "full", seconds, settings: SETTINGS, connections: CONNECTIONS, batchConnections: BATCH_CONNECTIONS, batchSize: BATCH_SIZE, machine: info, report, table }, null, 2)}\n`,
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
    rows.push(["B2", `recordUsageBatch, ${BATCH_SIZE} events per request, ${BATCH_CONNECTIONS} connections`, `${fmt(b2.eventsPerSecond)} events/s (${fmt(b2.batch.perSecond, 1)} req/s, ${latency(b2.batch)})`, `raw better-sqlite3, ${BATCH_SIZE} inserts per durable transaction: ${fmt(b2.rawBatch)} rows/s`, fmt(b2.eventsPerSecond / b2.rawBatch, 2), "≥ 20,000 events/s", mark(b2.eventsPerSecond >= 20_000)]);
    rows.push(["B2", `the rating service alone, ${BATCH_SIZE} events per call, in the benchmark process (no HTTP, no GraphQL)`, `${fmt(b2.inProcess)} events/s`, "what B2 would be with a free transport", "", "", ""]);
  }
  if (b3) {
    const ratio = b3.portal.perSecond / b3.bareExecute;
    rows.push(["B3", `partner portal \`accounts(first: 50)\`, PARTNER key, ${CONNECTIONS} connections`, `${fmt(b3.portal.perSecond)} req/s (${latency(b3.portal)})`, `bare graphql-js \`execute\`, in-memory data: ${fmt(b3.bareExecute)}/s (with parse + validate: ${fmt(b3.bareFull)}/s)`, ratioText(ratio, 0.4), "≥ 0.40", mark(ratio >= 0.4)]);
    rows.push(["B3", "the server's schema alone, in the benchmark process (no HTTP, no Apollo)", `${fmt(b3.inProcess.schemaExecute)}/s`, "what B3 would be with a free transport", fmt(b3.inProcess.schemaExecute / b3.bareExecute, 2), "", ""]);
    rows.push(["B3", "the page's store reads alone, in the benchmark process", `${fmt(b3.inProcess.reads)}/s`, "what B3 would be if GraphQL cost nothing too", fmt(b3.inProcess.reads / b3.bareExecute, 2), "", ""]);
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
  const header = ["", "Measurement", "Flexgate", "Baseline, same run", "Ratio", "Target", "Met"];
  const lines = [
    `Machine: ${info.nproc} × ${info.cpu}, ${info.memoryGb} GB, Node ${info.node}, commit ${info.commit}; server ${args.tsx ? "run through tsx" : "compiled, as npm start runs it"}; SQLite WAL, server synchronous=${SYNCHRONOUS}.`,
    "",
    `| ${header.join(" | ")} |`,
    `|${header.map(() => "---").join("|")}|`,
    ...rows.map((row) => `| ${row.join(" | ")} |`),
  ];
  return lines.join("\n");
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
