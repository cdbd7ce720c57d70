/**
 * Before and after in one run: the server built from a git ref against the server built from the
 * working tree, on the same database, taking turns under the same loads, compared by the CPU each
 * server process spends per request (robust to the load generator and anything else sharing the
 * machine, unlike requests per second).
 *
 *   npm run bench:compare -- HEAD~1                 three rounds of B1, B2 and B3 on SQLite
 *   npm run bench:compare -- main --rounds 5 --only B3
 *
 * The ref is compiled from `git archive` into bench/results/compare/ and runs on this checkout's
 * node_modules and on a database made by this checkout's migrations: compare refs whose
 * dependencies and schema are the working tree's.
 */
import { execSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { cpuSeconds } from "./baselines.js";
import { generateDatabase, type GenerateSummary } from "./generate.js";
import { BATCH_SIZE, batchAccepted, batchBody, PORTAL, recordBody } from "./requests.js";
import { buildServer, createKey, load, type LoadOptions, REPO_ROOT, startServer } from "./server.js";

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    rounds: { type: "string", default: "3" },
    seconds: { type: "string", default: "5" },
    only: { type: "string", default: "B1,B2,B3" },
  },
});
const ref = positionals[0];
if (!ref) throw new Error("name the git ref to compare the working tree with, e.g. npm run bench:compare -- HEAD~1");
const ROUNDS = Number(args.rounds);
const SECONDS = Number(args.seconds);
const ONLY = new Set(args.only!.toUpperCase().split(","));

/** Each figure's load, the unit its CPU is counted in, and how many of those a request carries. */
interface Figure {
  readonly name: string;
  readonly unit: string;
  readonly perRequest: number;
  readonly options: (url: string, keys: { metering: string; partner: string }) => Omit<LoadOptions, "seconds">;
}

function figures(accounts: GenerateSummary): Figure[] {
  // Fewer connections than `npm run bench` uses: the aim is the CPU per request, not saturation.
  const all: Figure[] = [
    { name: "B1", unit: "event", perRequest: 1, options: (url, keys) => ({ url, key: keys.metering, connections: 8, body: recordBody(accounts) }) },
    { name: "B2", unit: "event", perRequest: BATCH_SIZE, options: (url, keys) => ({ url, key: keys.metering, connections: 4, body: batchBody(accounts), accept: batchAccepted }) },
    { name: "B3", unit: "page", perRequest: 1, options: (url, keys) => ({ url, key: keys.partner, connections: 8, body: () => PORTAL }) },
  ];
  return all.filter((figure) => ONLY.has(figure.name));
}

const say = (message: string) => process.stderr.write(`${message}\n`);
const median = (values: readonly number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** The compiled servers by name: the ref's (under its short sha) and the working tree's. */
function buildBoth(root: string): Record<string, string> {
  const source = join(root, "source");
  mkdirSync(source, { recursive: true });
  const sha = execSync(`git rev-parse --short ${ref}`, { cwd: REPO_ROOT, encoding: "utf8" }).trim();
  execSync(`git archive ${sha} | tar -x -C ${source}`, { cwd: REPO_ROOT, stdio: "inherit" });
  const builds = { [sha]: join(source, "dist"), "working tree": join(root, "working-tree") };
  buildServer(builds[sha], source);
  buildServer(builds["working tree"]);
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

async function compare(builds: Record<string, string>, path: string): Promise<void> {
  const [sha] = Object.keys(builds) as [string];
  const accounts = await generateDatabase({ path, accounts: 200, resellers: 2, charges: 0, verify: "none", progress: false });
  const operatorKey = `bench-operator-${randomBytes(16).toString("hex")}`;
  const cpuPerUnit = new Map<string, number[]>();
  for (let round = 1; round <= ROUNDS; round++) {
    // Alternate which build goes first, so neither always meets the database a round fuller.
    const order = round % 2 === 1 ? Object.keys(builds) : Object.keys(builds).reverse();
    for (const name of order) {
      const server = await startServer({ dbPath: path, operatorKey, build: builds[name] });
      try {
        const keys = { metering: await createKey(server.url, operatorKey, "METERING"), partner: await createKey(server.url, operatorKey, "PARTNER", 1) };
        for (const figure of figures(accounts)) {
          const options = figure.options(server.url, keys);
          await load({ ...options, seconds: 1 });
          const before = cpuSeconds(server.pid);
          const result = await load({ ...options, seconds: SECONDS });
          const cpuMs = ((cpuSeconds(server.pid) - before) * 1000) / (result.ok * figure.perRequest);
          const key = `${figure.name} ${name}`;
          cpuPerUnit.set(key, [...(cpuPerUnit.get(key) ?? []), cpuMs]);
          say(`round ${round}, ${figure.name}, ${name}: ${(result.perSecond * figure.perRequest).toFixed(0)} ${figure.unit}s/s, ${cpuMs.toFixed(3)} ms of server CPU per ${figure.unit}${result.failed ? `, ${result.failed} refused` : ""}`);
        }
      } finally {
        await server.stop();
      }
    }
  }

  console.log(`\n| figure | ${sha}: server CPU per unit (median of ${ROUNDS}) | working tree | speed-up |\n|---|---|---|---|`);
  for (const figure of figures(accounts)) {
    const before = median(cpuPerUnit.get(`${figure.name} ${sha}`)!);
    const after = median(cpuPerUnit.get(`${figure.name} working tree`)!);
    console.log(`| ${figure.name} | ${before.toFixed(3)} ms per ${figure.unit} | ${after.toFixed(3)} ms per ${figure.unit} | ×${(before / after).toFixed(2)} |`);
  }
}

await main();
