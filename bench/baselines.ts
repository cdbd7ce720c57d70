/**
 * The baselines each Flexgate figure is compared with, measured in the benchmark process in the
 * same run: what SQLite alone, PostgreSQL alone and graphql-js alone can do on this machine right now.
 */
import { spawn } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import pg from "pg";
import { buildSchema, execute, type ExecutionResult, graphqlSync, parse, validate } from "graphql";
import { balanceAt } from "../server/core/balance.js";
import type { FundingSource } from "../server/core/drain.js";
import { formatMicros } from "../server/core/money.js";
import { formatInstant } from "../server/core/time.js";
import { createContext } from "../server/graphql/context.js";
import { selectsOnlyHoldings } from "../server/graphql/holdings.js";
import { graphqlSchema } from "../server/graphql/schema.js";
import type { Viewer } from "../server/core/model.js";
import { DEFAULT_RULES } from "../server/services/context.js";
import { createServices } from "../server/services/index.js";
import type { Store } from "../server/store/port.js";
import { openDatabase } from "../server/store/sqlite/database.js";

export interface RawInsertResult {
  readonly rowsPerSecond: number;
  readonly transactionsPerSecond: number;
}

/**
 * Raw better-sqlite3 inserts of a usage-sized row (a unique random event id, as Flexgate's
 * charges have), `rowsPerTransaction` per durable transaction: WAL, synchronous=FULL, the same
 * settings Flexgate runs with by default.
 */
export function rawInsertRate(dir: string, rowsPerTransaction: number, milliseconds: number): RawInsertResult {
  const db = new Database(join(dir, `raw-${rowsPerTransaction}.sqlite`));
  try {
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = FULL");
    db.exec(`create table usage (
      id integer primary key, event_id text not null unique, account_id integer not null,
      tokens_micros integer not null, occurred_at integer not null)`);
    const insert = db.prepare("insert into usage (event_id, account_id, tokens_micros, occurred_at) values (?, ?, ?, ?)");
    const write = db.transaction((count: number) => {
      for (let i = 0; i < count; i++) insert.run(randomUUID(), 1 + (i % 200), 100_000, Date.now());
    });
    for (let i = 0; i < 20; i++) write.immediate(rowsPerTransaction); // warm the file and the statement
    let transactions = 0;
    const started = performance.now();
    const until = started + milliseconds;
    while (performance.now() < until) {
      write.immediate(rowsPerTransaction);
      transactions++;
    }
    const seconds = (performance.now() - started) / 1000;
    return { rowsPerSecond: (transactions * rowsPerTransaction) / seconds, transactionsPerSecond: transactions / seconds };
  } finally {
    db.close();
  }
}

/**
 * The ledger's own appends alone: per event the usage_charges row and the allocations row that
 * rating writes for a charge a Flex pack pays, in the real schema with every index and the
 * server's settings (WAL, synchronous=FULL), on a copy of the server's database, with random
 * event ids, `eventsPerTransaction` per durable transaction (the batcher's group size). No
 * reads, no deciding, no HTTP: what no B2 on this schema can beat on this machine now.
 */
export function ledgerAppendRate(path: string, accounts: { first: number; last: number }, eventsPerTransaction: number, milliseconds: number): number {
  const db = openDatabase({ path }).$client;
  try {
    const append = ledgerAppender(db, accounts);
    return eventsPerTransaction * rate(milliseconds, () => append(eventsPerTransaction));
  } finally {
    db.close();
  }
}

/**
 * Writes `count` events' ledger rows (see ledgerAppendRate) in one durable transaction, on random
 * accounts between `accounts.first` and `accounts.last`; `onCharge` runs inside it after each
 * charge is written.
 */
export function ledgerAppender(
  db: Database.Database,
  accounts: { first: number; last: number },
  onCharge?: (eventId: string, chargeId: number | bigint) => void,
): (count: number) => void {
  const packOf = new Map(
    (db.prepare("select account_id as account, max(id) as pack from flex_packs where account_id between ? and ? group by account_id").all(accounts.first, accounts.last) as {
      account: number;
      pack: number;
    }[]).map((row) => [row.account, row.pack]),
  );
  const apiCode = "design-automation/autocad";
  const priceId = (db.prepare("select max(id) as id from price_entries where api_code = ?").get(apiCode) as { id: number }).id;
  const charge = db.prepare(`insert into usage_charges
    (event_id, fingerprint, account_id, api_code, price_entry_id, quantity_micros, outcome, occurred_at, rated_at, client_id, labels, tokens_micros, units)
    values (?, ?, ?, ?, ?, 100000000, 'SUCCEEDED', ?, ?, 'bench-client', '{}', 50000000, null)`);
  const allocation = db.prepare(`insert into allocations
    (charge_id, account_id, source, credit_lot_id, token_flex_pool_id, flex_pack_id, amount_micros, units, occurred_at)
    values (?, ?, 'FLEX_PACK', null, null, ?, 50000000, null, ?)`);
  const span = accounts.last - accounts.first + 1;
  const write = db.transaction((count: number) => {
    const now = Date.now();
    for (let i = 0; i < count; i++) {
      const account = accounts.first + Math.floor(Math.random() * span);
      const eventId = randomUUID();
      const id = charge.run(eventId, randomBytes(16).toString("hex"), account, apiCode, priceId, now - 1000, now).lastInsertRowid;
      onCharge?.(eventId, id);
      allocation.run(id, account, packOf.get(account) ?? null, now - 1000);
    }
  });
  return (count) => write.immediate(count);
}

/**
 * The rating service alone: batches of `batchSize` events from `callers` callers at once through
 * the usage batcher, on its own connection, in the benchmark process, no HTTP and no GraphQL. Not
 * a baseline but the ceiling B2 could reach with a free transport, grouped as the server groups
 * concurrent batches; on SQLite it runs on a copy of the database the server used, on PostgreSQL
 * on the same database once the servers have stopped.
 */
export async function ratingInProcess(
  store: Store,
  accounts: { first: number; last: number },
  batchSize: number,
  milliseconds: number,
  options: { callers?: number; eventId?: () => string } = {},
): Promise<number> {
  const { callers = 4, eventId = randomUUID } = options;
  const services = createServices({ store, clock: Date.now, rules: DEFAULT_RULES });
  const span = accounts.last - accounts.first + 1;
  const batch = () =>
    Array.from({ length: batchSize }, (_, i) => ({
      eventId: eventId(),
      accountId: accounts.first + Math.floor(Math.random() * span),
      apiCode: i % 2 ? "design-automation/autocad" : "model-derivative/simple-job",
      quantityMicros: 100_000_000n,
      outcome: "SUCCEEDED" as const,
      occurredAt: Date.now() - 1000,
      clientId: "bench-client",
      labels: {},
    }));
  const record = async () => {
    const items = batch().map((event, index) => ({ event, field: `inputs.${index}` }));
    const refused = (await services.usageBatcher.recordAll(items)).find((result) => result.error);
    if (refused) throw refused.error;
  };
  return batchSize * callers * (await rateAsync(milliseconds, async () => void (await Promise.all(Array.from({ length: callers }, record)))));
}

/**
 * A version 7 UUID (RFC 9562): the millisecond it was made comes first, so a pipeline's ids sort
 * by time, as ULIDs do. New ids then land at the end of the ledger's event-id index instead of on
 * a random page of it each.
 */
export function uuidV7(now = Date.now()): string {
  const bytes = randomBytes(16);
  bytes.writeUIntBE(now, 0, 6);
  bytes[6] = 0x70 | (bytes[6]! & 0x0f);
  bytes[8] = 0x80 | (bytes[8]! & 0x3f);
  const hex = bytes.toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export interface PortalInProcess {
  /** The server's own schema executing the portal query, with a request's context: no HTTP, no Apollo. */
  readonly schemaExecute: number;
  /** The page's store reads alone (accounts, their lots and packs, the reseller), as the loaders make them. */
  readonly reads: number;
}

/**
 * Where a B3 request's time goes, in the benchmark process on the server's data (a copy on SQLite):
 * not baselines but the ceilings B3 could reach if HTTP and Apollo, then GraphQL execution too,
 * cost nothing.
 */
export async function portalInProcess(store: Store, resellerId: number, milliseconds: number): Promise<PortalInProcess> {
  const services = createServices({ store, clock: Date.now, rules: DEFAULT_RULES });
  const schema = graphqlSchema();
  const document = parse(PORTAL_QUERY);
  const actor = { name: "bench partner", role: "PARTNER", keyId: 0, resellerId } as const;
  const viewer: Viewer = { key: { id: 0, name: actor.name, role: "PARTNER", resellerId, secretPrefix: "", createdBy: "bench", createdAt: 0, revokedAt: null }, actor };
  const holdingsOnly = selectsOnlyHoldings(schema, document);
  const schemaExecute = await rateAsync(milliseconds, async () => {
    const contextValue = createContext(services, viewer);
    // As the server's executor prepares the loaders for this document.
    if (holdingsOnly) contextValue.loaders.readHoldingsOnly();
    const result = await execute({ schema, document, contextValue });
    if (result.errors) throw result.errors[0];
  });
  const reads = await rateAsync(milliseconds, async () => {
    const ids = (await services.accounts.list({ resellerId }, 50, undefined)).items.map((account) => account.id);
    await services.accounts.lotHoldings(ids);
    await services.accounts.packHoldings(ids);
    await services.accounts.findResellers([resellerId]);
  });
  return { schemaExecute, reads };
}

/**
 * The partner-portal page of B3, sent to the server and run by bare graphql-js alike: 50 accounts
 * with their reseller, balance, cloud-credit lots (expired ones too, as a portal's history shows
 * them) and Flex packs, each with what is left and when it expires.
 */
export const PORTAL_QUERY =
  "query Portal { accounts(first: 50) { edges { node { balance { available } reseller { name } creditLots(includeExpired: true) { remaining expiresAt } flexPacks { remaining expiresAt } } } } }";

const BARE_SDL = `
  type Query { accounts(first: Int): AccountConnection! }
  type AccountConnection { edges: [AccountEdge!]! }
  type AccountEdge { node: Account! }
  type Account { balance: Balance! reseller: Reseller creditLots(includeExpired: Boolean): [CreditLot!]! flexPacks(includeExpired: Boolean): [FlexPack!]! }
  type Balance { available: String! }
  type Reseller { name: String! }
  type CreditLot { remaining: String! expiresAt: String! }
  type FlexPack { remaining: String! expiresAt: String! }
`;

export interface PortalAccount {
  readonly id: number;
  readonly deficitMicros: bigint;
  readonly graceStartedAt: number | null;
  readonly resellerName: string | null;
  readonly sources: readonly FundingSource[];
}

type SourceRow = { id: number; remaining_micros: number; purchased_at: number; expires_at: number; amount_micros?: number; tokens_micros?: number };
type AccountRow = { id: number; deficit: number; grace: number | null; reseller: string | null };

/** The first 50 accounts of a reseller with their reseller's name, as the portal page lists them ($1: the reseller). */
const PORTAL_ACCOUNTS_SQL = `select a.id, a.deficit_micros as deficit, a.grace_started_at as grace, r.name as reseller
  from accounts a left join resellers r on r.id = a.reseller_id where a.reseller_id = $1 order by a.id limit 50`;
const LOTS_SQL = "select * from credit_lots where account_id = $1 order by expires_at, id";
const PACKS_SQL = "select * from flex_packs where account_id = $1 order by expires_at, id";

function portalAccount(account: AccountRow, lots: readonly SourceRow[], packs: readonly SourceRow[]): PortalAccount {
  return {
    id: account.id,
    deficitMicros: BigInt(account.deficit),
    graceStartedAt: account.grace,
    resellerName: account.reseller,
    sources: [...lots.map((row) => source("CREDIT_LOT", row, row.amount_micros!)), ...packs.map((row) => source("FLEX_PACK", row, row.tokens_micros!))],
  };
}

/** The first 50 accounts of a reseller with their lots and packs, read once into memory from a SQLite file. */
export function loadPortalData(dbPath: string, resellerId: number): PortalAccount[] {
  const db = new Database(dbPath, { readonly: true });
  try {
    const sqlite = (text: string) => text.replace("$1", "?");
    const accounts = db.prepare(sqlite(PORTAL_ACCOUNTS_SQL)).all(resellerId) as AccountRow[];
    const lots = db.prepare(sqlite(LOTS_SQL));
    const packs = db.prepare(sqlite(PACKS_SQL));
    return accounts.map((account) => portalAccount(account, lots.all(account.id) as SourceRow[], packs.all(account.id) as SourceRow[]));
  } finally {
    db.close();
  }
}

/** The same, from a PostgreSQL database (bigint columns read as numbers, as the server reads them). */
export async function loadPortalDataFromPostgres(url: string, resellerId: number): Promise<PortalAccount[]> {
  const client = new pg.Client({ connectionString: url, types: { getTypeParser: (oid, format) => (oid === pg.types.builtins.INT8 ? Number : pg.types.getTypeParser(oid, format)) } });
  await client.connect();
  try {
    const accounts = (await client.query<AccountRow>(PORTAL_ACCOUNTS_SQL, [resellerId])).rows;
    const out: PortalAccount[] = [];
    for (const account of accounts) {
      const lots = (await client.query<SourceRow>(LOTS_SQL, [account.id])).rows;
      const packs = (await client.query<SourceRow>(PACKS_SQL, [account.id])).rows;
      out.push(portalAccount(account, lots, packs));
    }
    return out;
  } finally {
    await client.end();
  }
}

/**
 * Raw node-postgres inserts of a usage-sized row (a unique random event id), `rowsPerTransaction`
 * per committed transaction (one multi-row statement), from `connections` connections at once:
 * what the PostgreSQL server alone does on this machine now, with the same durable commits
 * (synchronous_commit as the server has it) Flexgate relies on.
 */
export async function rawPostgresInsertRate(url: string, rowsPerTransaction: number, connections: number, milliseconds: number): Promise<RawInsertResult> {
  const table = `raw_usage_${rowsPerTransaction}`;
  const pool = new pg.Pool({ connectionString: url, max: connections });
  try {
    await pool.query(`drop table if exists ${table}`);
    await pool.query(`create table ${table} (
      id bigint generated by default as identity primary key, event_id text not null unique, account_id bigint not null,
      tokens_micros bigint not null, occurred_at bigint not null)`);
    const insert = `insert into ${table} (event_id, account_id, tokens_micros, occurred_at)
      select e, a, 100000, $3 from unnest($1::text[], $2::bigint[]) as t(e, a)`;
    const write = async (client: pg.PoolClient) => {
      const events = Array.from({ length: rowsPerTransaction }, randomUUID);
      const accounts = events.map((_, i) => 1 + (i % 200));
      await client.query("begin");
      await client.query(insert, [events, accounts, Date.now()]);
      await client.query("commit");
    };
    let transactions = 0;
    let measuring = false;
    const started = { at: 0 };
    const loop = async (until: number) => {
      const client = await pool.connect();
      try {
        while (performance.now() < until) {
          await write(client);
          if (measuring) transactions++;
        }
      } finally {
        client.release();
      }
    };
    const warmUntil = performance.now() + Math.min(500, milliseconds / 2);
    await Promise.all(Array.from({ length: connections }, () => loop(warmUntil)));
    measuring = true;
    started.at = performance.now();
    await Promise.all(Array.from({ length: connections }, () => loop(started.at + milliseconds)));
    const seconds = (performance.now() - started.at) / 1000;
    await pool.query(`drop table ${table}`);
    return { rowsPerSecond: (transactions * rowsPerTransaction) / seconds, transactionsPerSecond: transactions / seconds };
  } finally {
    await pool.end();
  }
}

function source(kind: FundingSource["kind"], row: { id: number; remaining_micros: number; purchased_at: number; expires_at: number }, size: number): FundingSource {
  return { kind, id: row.id, sizeMicros: BigInt(size), remainingMicros: BigInt(row.remaining_micros), purchasedAt: row.purchased_at, expiresAt: row.expires_at };
}

/**
 * graphql-js alone: a schema built from SDL, plain resolvers over in-memory objects doing the
 * same domain work as the server's (balance from the sources, lots and packs listed as the server
 * lists them, amounts as decimal strings, instants as ISO strings). No HTTP, no Apollo, no
 * type-graphql, no database.
 */
export function bareGraphql(data: readonly PortalAccount[]) {
  const schema = buildSchema(BARE_SDL);
  const document = parse(PORTAL_QUERY);
  const errors = validate(schema, document);
  if (errors.length > 0) throw new Error(errors.map(String).join("\n"));
  const listed = (account: PortalAccount, kind: FundingSource["kind"], includeExpired: boolean | null | undefined) => {
    const now = Date.now();
    return account.sources
      .filter((s) => s.kind === kind && (includeExpired || s.expiresAt > now))
      .map((s) => ({ remaining: formatMicros(s.remainingMicros), expiresAt: formatInstant(s.expiresAt) }));
  };
  const nodes = data.map((account) => ({
    balance: () => ({ available: formatMicros(balanceAt(account.sources, account, Date.now()).availableMicros) }),
    reseller: account.resellerName === null ? null : { name: account.resellerName },
    creditLots: ({ includeExpired }: { includeExpired?: boolean | null }) => listed(account, "CREDIT_LOT", includeExpired),
    flexPacks: ({ includeExpired }: { includeExpired?: boolean | null }) => listed(account, "FLEX_PACK", includeExpired),
  }));
  const rootValue = { accounts: ({ first }: { first: number }) => ({ edges: nodes.slice(0, first).map((node) => ({ node })) }) };
  const run = () => execute({ schema, document, rootValue }) as ExecutionResult;
  return {
    schema,
    /** The portal document, parsed and validated once. */
    document,
    query: PORTAL_QUERY,
    rootValue,
    /** One execution's result, to compare with the server's answer. */
    result: () => run(),
    /** Executions per second of the pre-parsed, pre-validated document, in this process. */
    executeRate(milliseconds: number): number {
      return rate(milliseconds, () => run());
    },
    /** Per second with parsing and validation on every call, for scale. */
    fullRate(milliseconds: number): number {
      return rate(milliseconds, () => void graphqlSync({ schema, source: PORTAL_QUERY, rootValue }));
    },
  };
}

/** Writes the portal's in-memory data to a JSON file for the bare server child (amounts as strings). */
export function writePortalData(path: string, data: readonly PortalAccount[]): void {
  writeFileSync(path, JSON.stringify(data, (_key, value: unknown) => (typeof value === "bigint" ? `${value}n` : value)));
}

export function readPortalData(path: string): PortalAccount[] {
  return JSON.parse(readFileSync(path, "utf8"), (_key, value: unknown) => (typeof value === "string" && /^-?\d+n$/.test(value) ? BigInt(value.slice(0, -1)) : value)) as PortalAccount[];
}

export interface BareServer {
  readonly url: string;
  readonly pid: number;
  stop(): Promise<void>;
}

/**
 * CPU seconds (user + system, every thread) a process has used so far, from /proc/<pid>/stat. On a
 * machine shared with other work, throughput follows the share of the cores a process gets;
 * requests per CPU second of the process does not.
 */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // The fields after the command name, which may hold spaces, start at its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticksPerSecond = 100; // USER_HZ, 100 on every Linux that Node supports
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
}

/**
 * B3's baseline over HTTP: bench/bare-server.ts in a child process (NODE_ENV=production, like the
 * server), serving the portal document over `data` from memory; driven by the same load as the
 * server, so both sides pay for HTTP, JSON and the load generator alike.
 */
export async function startBareServer(data: readonly PortalAccount[], dir: string): Promise<BareServer> {
  const file = join(dir, `portal-data-${randomUUID()}.json`);
  writePortalData(file, data);
  const child = spawn(process.execPath, ["--import", "tsx", join(import.meta.dirname, "bare-server.ts"), file], {
    env: { ...process.env, NODE_ENV: "production" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    let buffered = "";
    child.stdout!.setEncoding("utf8");
    child.stdout!.on("data", (chunk: string) => {
      buffered += chunk;
      const newline = buffered.indexOf("\n");
      if (newline >= 0) resolve((JSON.parse(buffered.slice(0, newline)) as { url: string }).url);
    });
    void exited.then((code) => reject(new Error(`the bare graphql-js server exited with ${code} before listening`)));
  });
  return {
    url,
    pid: child.pid!,
    async stop() {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

async function rateAsync(milliseconds: number, work: () => Promise<void>): Promise<number> {
  const warmUntil = performance.now() + Math.min(500, milliseconds / 2);
  while (performance.now() < warmUntil) await work();
  let count = 0;
  const started = performance.now();
  const until = started + milliseconds;
  while (performance.now() < until) {
    await work();
    count++;
  }
  return count / ((performance.now() - started) / 1000);
}

function rate(milliseconds: number, work: () => void): number {
  const warmUntil = performance.now() + Math.min(500, milliseconds / 2);
  while (performance.now() < warmUntil) work();
  let count = 0;
  const started = performance.now();
  const until = started + milliseconds;
  while (performance.now() < until) {
    work();
    count++;
  }
  return count / ((performance.now() - started) / 1000);
}
