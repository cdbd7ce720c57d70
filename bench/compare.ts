/**
 * Before and after in one run: the server built from a git ref against the server built from the
 * working tree, both running at once on copies of one database, loaded in turn in short slices
 * under the same loads, compared by the CPU each server process spends per event or page. CPU per
 * request does not move with the load generator sharing the machine, and pairing each slice of
 * one server with the next slice of the other cancels the drift of a shared machine's speed,
 * which on a two-core VM moves a single build's figure by ±15% from one minute to the next.
 *
 *   npm run bench:compare -- HEAD~1                    B1, B2 and B3 on SQLite, 8 pairs of 2 s slices each
 *   npm run bench:compare -- main --pairs 12 --only B3
 *   npm run bench:compare -- HEAD --node-flags="--max-semi-space-size=64"   an option of node, measured
 *                                                     by starting only the working tree's server with it
 *   npm run bench:compare -- HEAD --store postgres --connections 32   each server on a PostgreSQL copy
 *                                                     (FLEXGATE_BENCH_DATABASE_URL), every figure's load
 *                                                     with 32 connections (more than its 10 pooled ones)
 *
 * The ref is compiled from `git archive` into bench/results/compare/ (removed afterwards) and runs
 * on this checkout's node_modules and on a database made by this checkout's migrations: compare
 * refs whose dependencies and schema are the working tree's.
 */
import { execSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { copyFileSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { cpuSeconds } from "./baselines.js";
import { generateDatabase, type GenerateSummary } from "./generate.js";
import { type BenchDatabase, createBenchDatabase, fillFromSqlite } from "./postgres.js";
import { BATCH_SIZE, batchAccepted, batchBody, PORTAL, recordBody } from "./requests.js";
import { buildServer, type Keys, keysFor, load, type LoadOptions, nodeFlagsOf, REPO_ROOT, type RunningServer, say, startServer } from "./server.js";

/** The side built from the working tree: the one `--node-flags` applies to. */
const WORKING_TREE = "working tree";

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    pairs: { type: "string", default: "8" },
    seconds: { type: "string", default: "2" },
    only: { type: "string", default: "B1,B2,B3" },
    "node-flags": { type: "string" },
    store: { type: "string", default: "sqlite" },
    connections: { type: "string" },
  },
});
const ref = positionals[0];
if (!ref) throw new Error("name the git ref to compare the working tree with, e.g. npm run bench:compare -- HEAD~1");
const PAIRS = Number(args.pairs);
const SECONDS = Number(args.seconds);
const ONLY = new Set(args.only!.toUpperCase().split(","));
const NODE_FLAGS = nodeFlagsOf(args["node-flags"]);
if (!["sqlite", "postgres"].includes(args.store!)) throw new Error(`--store must be sqlite or postgres, got "${args.store}"`);
const POSTGRES = args.store === "postgres";
const CONNECTIONS = args.connections === undefined ? undefined : Number(args.connections);
if (CONNECTIONS !== undefined && !(Number.isInteger(CONNECTIONS) && CONNECTIONS > 0)) throw new Error(`--connections must be a whole number, got "${args.connections}"`);

/** Each figure's load, the unit its CPU is counted in, and how many of those a request carries. */
interface Figure {
  readonly name: string;
  readonly unit: string;
  readonly perRequest: number;
  readonly options: (url: string, keys: Keys) => Omit<LoadOptions, "seconds">;
}

function figures(accounts: GenerateSummary): Figure[] {
  // Fewer connections than `npm run bench` uses: the aim is the CPU per request, not saturation.
  const all: Figure[] = [
    { name: "B1", unit: "event", perRequest: 1, options: (url, keys) => ({ url, key: keys.metering, connections: 8, body: recordBody(accounts) }) },
    { name: "B2", unit: "event", perRequest: BATCH_SIZE, options: (url, keys) => ({ url, key: keys.metering, connections: 4, body: batchBody(accounts), accept: batchAccepted }) },
    { name: "B3", unit: "page", perRequest: 1, options: (url, keys) => ({ url, key: keys.partner, connections: 8, body: () => PORTAL }) },
  ];
  return all
    .filter((figure) => ONLY.has(figure.name))
    .map((figure) => (CONNECTIONS === undefined ? figure : { ...figure, options: (url, keys) => ({ ...figure.options(url, keys), connections: CONNECTIONS }) }));
}

const median = (values: readonly number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const mean = (values: readonly number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;

/** The compiled servers by name: the ref's (under its short sha) and the working tree's. */
function buildBoth(root: string): Record<string, string> {
  const source = join(root, "source");
  mkdirSync(source, { recursive: true });
  const sha = execSync(`git rev-parse --short ${ref}`, { cwd: REPO_ROOT, encoding: "utf8" }).trim();
  execSync(`git archive ${sha} | tar -x -C ${source}`, { cwd: REPO_ROOT, stdio: "inherit" });
  const builds = { [sha]: join(source, "dist"), [WORKING_TREE]: join(root, "working-tree") };
  buildServer(builds[sha], source);
  buildServer(builds[WORKING_TREE]);
  say(`compiled ${sha} and the working tree`);
  return builds;
}

async function main(): Promise<void> {
  // Inside the repository, so both builds find node_modules; removed afterwards, sources and all.
  const root = join(REPO_ROOT, "bench", "results", "compare");
  rmSync(root, { recursive: true, force: true });
  try {
    await compare(buildBoth(root), join(root, "compare.sqlite"));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** A compiled server running on its own copy of the database, with its keys. */
interface Side {
  readonly name: string;
  readonly server: RunningServer;
  readonly keys: Keys;
}

async function compare(builds: Record<string, string>, path: string): Promise<void> {
  const accounts = await generateDatabase({ path, accounts: 200, resellers: 2, charges: 0, verify: "none", progress: false });
  const operatorKey = `bench-operator-${randomBytes(16).toString("hex")}`;
  const sides: Side[] = [];
  const databases: BenchDatabase[] = [];
  try {
    for (const [name, build] of Object.entries(builds)) {
      const copy = `${path}.${sides.length}`;
      copyFileSync(path, copy);
      const nodeFlags = name === WORKING_TREE ? NODE_FLAGS : [];
      let databaseUrl: string | undefined;
      if (POSTGRES) {
        const database = await createBenchDatabase(`_${sides.length}`);
        databases.push(database);
        await fillFromSqlite(copy, database.url);
        databaseUrl = database.url;
      }
      const server = await startServer({ dbPath: copy, databaseUrl, operatorKey, build, nodeFlags });
      sides.push({ name: nodeFlags.length ? `${name} (node ${nodeFlags.join(" ")})` : name, server, keys: await keysFor(server, operatorKey) });
    }
    const rows = [];
    for (const figure of figures(accounts)) rows.push(await measure(figure, sides as [Side, Side]));
    console.log(`\n| figure | ${sides[0]!.name}: server CPU per unit (mean) | ${sides[1]!.name} | speed-up (median of ${PAIRS} paired slices) |\n|---|---|---|---|`);
    for (const row of rows) console.log(row);
  } finally {
    for (const side of sides) await side.server.stop();
    for (const database of databases) await database.drop();
  }
}

/** One figure: PAIRS pairs of slices, the first of each pair alternating between the two sides. */
async function measure(figure: Figure, [before, after]: [Side, Side]): Promise<string> {
  const slice = async (side: Side, seconds: number) => {
    const options = figure.options(side.server.url, side.keys);
    const cpuBefore = cpuSeconds(side.server.pid);
    const result = await load({ ...options, seconds });
    return ((cpuSeconds(side.server.pid) - cpuBefore) * 1000) / (result.ok * figure.perRequest);
  };
  for (const side of [before, after]) await slice(side, 1);
  const cpu = { before: [] as number[], after: [] as number[] };
  const speedUps: number[] = [];
  for (let pair = 0; pair < PAIRS; pair++) {
    const order = pair % 2 === 0 ? [before, after] : [after, before];
    const taken = new Map<Side, number>();
    for (const side of order) taken.set(side, await slice(side, SECONDS));
    cpu.before.push(taken.get(before)!);
    cpu.after.push(taken.get(after)!);
    speedUps.push(taken.get(before)! / taken.get(after)!);
    say(`${figure.name} pair ${pair + 1}: ${before.name} ${taken.get(before)!.toFixed(3)} ms, ${after.name} ${taken.get(after)!.toFixed(3)} ms of server CPU per ${figure.unit}`);
  }
  const spread = `×${Math.min(...speedUps).toFixed(2)}–${Math.max(...speedUps).toFixed(2)}`;
  return `| ${figure.name} | ${mean(cpu.before).toFixed(3)} ms per ${figure.unit} | ${mean(cpu.after).toFixed(3)} ms per ${figure.unit} | ×${median(speedUps).toFixed(2)} (pairs ${spread}) |`;
}

await main();
