/**
 * Builds a Flexgate database of a chosen size for the benchmarks: resellers, accounts, their
 * lots and Flex packs, and a history of usage charges with their allocations.
 *
 * Rows are written with direct SQL in large transactions (a million charges through the GraphQL
 * API would take longer than the benchmark itself), but every decision is the product's own:
 * prices come from the migrated APS price table through `priceInForce` and `chargeMicros`, and
 * each charge is paid by the pure `decideChargeOrThrow` over the account's sources as they stand,
 * so allocations sum to the charge and every remaining amount equals what the ledger recomputes.
 * The result is checked with the product's `ledger.verify()` unless asked not to.
 *
 *   npx tsx bench/generate.ts --db /tmp/big.sqlite --accounts 10000 --charges 1000000
 */
import { SqliteStore } from "../server/store/sqlite/store.js";
import { randomUUID } from "node:crypto";
import { existsSync, rmSync, statSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { applyAllocations } from "../server/core/balance.js";
import type { FundingSource } from "../server/core/drain.js";
import type { Outcome } from "../server/core/price.js";
import { chargeMicros, priceInForce } from "../server/core/price.js";
import { decideChargeOrThrow } from "../server/core/rating.js";
import { addOneYear } from "../server/core/time.js";
import { DEFAULT_RULES, fingerprint } from "../server/services/context.js";
import { createServices } from "../server/services/index.js";
import { migrateDatabase, openDatabase } from "../server/store/sqlite/database.js";
import { allPriceVersions } from "../server/store/sqlite/prices.store.js";
import { seededRandom } from "../test/fixtures/random.js";

export interface GenerateOptions {
  readonly path: string;
  readonly accounts: number;
  readonly charges: number;
  /** Default: one reseller per 1,000 accounts, at least one. */
  readonly resellers?: number;
  /** "full" recomputes the whole ledger, "none" skips it. */
  readonly verify?: "full" | "none";
  /** The generation time: lots, packs and charges are dated relative to it. */
  readonly now?: number;
  /** Progress on stderr (default true). */
  readonly progress?: boolean;
}

export interface GenerateSummary {
  readonly path: string;
  readonly accounts: number;
  readonly resellers: number;
  readonly charges: number;
  /** Account ids run from firstAccountId to lastAccountId; the first reseller's come first. */
  readonly firstAccountId: number;
  readonly lastAccountId: number;
  readonly allocations: number;
  readonly seconds: number;
  readonly verifySeconds: number | null;
  readonly drift: number | null;
  readonly bytes: number;
  /** Database size per million charges, in MB (10^6 bytes). */
  readonly mbPerMillionCharges: number | null;
}

const DAY = 86_400_000;
const TOKEN = 1_000_000n;

/** The usage mix: APIs that cost tokens today, with quantities in their meter units. */
const USAGE_MIX: readonly { apiCode: string; quantity: (r: () => number) => bigint }[] = [
  { apiCode: "model-derivative/simple-job", quantity: () => TOKEN },
  { apiCode: "model-derivative/complex-job", quantity: () => TOKEN },
  { apiCode: "design-automation/autocad", quantity: (r) => BigInt(5 + Math.floor(r() * 600)) * TOKEN },
  { apiCode: "design-automation/revit", quantity: (r) => BigInt(30 + Math.floor(r() * 900)) * TOKEN },
  { apiCode: "flow-graph-engine/processing", quantity: (r) => BigInt(60 + Math.floor(r() * 3000)) * TOKEN },
  { apiCode: "reality-capture/photoscene", quantity: (r) => BigInt(20 + Math.floor(r() * 300)) * TOKEN },
];

class Progress {
  private lastDraw = 0;
  private readonly started = Date.now();
  constructor(
    private readonly label: string,
    private readonly total: number,
    private readonly enabled: boolean,
  ) {}

  private drawnDone = false;

  tick(done: number): void {
    if (!this.enabled || this.drawnDone) return;
    const now = Date.now();
    if (now - this.lastDraw < (process.stderr.isTTY ? 100 : 2000) && done < this.total) return;
    this.drawnDone = done >= this.total;
    this.lastDraw = now;
    const share = this.total === 0 ? 1 : done / this.total;
    const width = 30;
    const filled = Math.round(share * width);
    const elapsed = (now - this.started) / 1000;
    const rate = elapsed > 0 ? Math.round(done / elapsed) : 0;
    const line = `${this.label} [${"#".repeat(filled)}${".".repeat(width - filled)}] ${(share * 100).toFixed(0).padStart(3)}% ${done.toLocaleString("en-US")}/${this.total.toLocaleString("en-US")} ${rate.toLocaleString("en-US")}/s ${elapsed.toFixed(1)} s`;
    process.stderr.write(process.stderr.isTTY ? `\r${line}` : `${line}\n`);
  }

  done(): void {
    this.tick(this.total);
    if (this.enabled && process.stderr.isTTY) process.stderr.write("\n");
  }
}

export async function generateDatabase(options: GenerateOptions): Promise<GenerateSummary> {
  const started = Date.now();
  const now = options.now ?? Date.now();
  const resellerCount = options.resellers ?? Math.max(1, Math.round(options.accounts / 1000));
  const showProgress = options.progress ?? true;
  for (const suffix of ["", "-wal", "-shm"]) if (existsSync(options.path + suffix)) rmSync(options.path + suffix);

  const db = openDatabase({ path: options.path, synchronous: "NORMAL" });
  migrateDatabase(db);
  const sqlite = db.$client;
  // A throwaway file being filled: nothing needs to survive a crash until it is finished.
  sqlite.pragma("synchronous = OFF");
  sqlite.pragma("cache_size = -262144");
  const versions = new Map<string, ReturnType<typeof allPriceVersions>>();
  for (const version of allPriceVersions(db)) {
    const list = versions.get(version.apiCode) ?? [];
    list.push(version);
    versions.set(version.apiCode, list);
  }
  const random = seededRandom(20221107);

  const insertReseller = sqlite.prepare(
    `insert into resellers (name, tier, flex_agreement, active, locations, languages, services, created_at, updated_at)
     values (?, ?, 1, 1, '["JP"]', '["ja","en"]', '["Flex"]', ?, ?)`,
  );
  const insertAccount = sqlite.prepare(
    `insert into accounts (name, country, reseller_id, balance_policy, deficit_micros, grace_started_at, created_at, updated_at)
     values (?, 'JP', ?, 'NEGATIVE_WITH_GRACE', 0, null, ?, ?)`,
  );
  const insertLot = sqlite.prepare(
    `insert into credit_lots (account_id, amount_micros, remaining_micros, purchased_at, expires_at, external_ref, fingerprint, created_at)
     values (?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const insertPack = sqlite.prepare(
    `insert into flex_packs (account_id, tokens_micros, remaining_micros, purchased_at, expires_at, channel, reseller_id, order_ref, unit_price, currency, fingerprint, created_at)
     values (?, ?, ?, ?, ?, ?, ?, ?, null, null, ?, ?)`,
  );
  const insertCharge = sqlite.prepare(
    `insert into usage_charges (event_id, fingerprint, account_id, api_code, price_entry_id, quantity_micros, outcome, occurred_at, rated_at, client_id, labels, tokens_micros)
     values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '{}', ?)`,
  );
  const insertAllocation = sqlite.prepare(
    `insert into allocations (charge_id, account_id, source, credit_lot_id, flex_pack_id, amount_micros, occurred_at) values (?, ?, ?, ?, ?, ?, ?)`,
  );
  const updateRemaining = {
    CREDIT_LOT: sqlite.prepare("update credit_lots set remaining_micros = ? where id = ?"),
    FLEX_PACK: sqlite.prepare("update flex_packs set remaining_micros = ? where id = ?"),
  };

  // Every account: one expired cloud-credit lot from before Flex, a pack that ran out during the
  // history, one current pack from its reseller and a small recent eStore pack. The history is
  // the last 365 days, so early usage drains the old pack and later usage the current ones.
  const sources = new Map<number, FundingSource[]>();
  const accountIds: number[] = [];
  const setup = sqlite.transaction(() => {
    const resellerIds: number[] = [];
    for (let r = 0; r < resellerCount; r++) {
      resellerIds.push(Number(insertReseller.run(`Bench reseller ${r + 1}`, r % 2 === 0 ? "PLATINUM" : "GOLD", now - 800 * DAY, now - 800 * DAY).lastInsertRowid));
    }
    for (let a = 0; a < options.accounts; a++) {
      // Accounts go to resellers in blocks, so the first reseller holds the first accounts.
      const resellerId = resellerIds[Math.floor((a * resellerCount) / options.accounts)]!;
      const accountId = Number(insertAccount.run(`Bench account ${a + 1}`, resellerId, now - 700 * DAY, now - 700 * DAY).lastInsertRowid);
      accountIds.push(accountId);
      const own: FundingSource[] = [];
      const lotBought = Date.UTC(2022, 9, 1) + (a % 30) * DAY;
      const lotAmount = 100n * TOKEN;
      const lotPrint = fingerprint({ accountId, amountMicros: lotAmount, purchasedAt: lotBought });
      const lotId = Number(
        insertLot.run(accountId, Number(lotAmount), Number(lotAmount), lotBought, addOneYear(lotBought), `bench-lot-${accountId}`, lotPrint, now - 700 * DAY).lastInsertRowid,
      );
      own.push({ kind: "CREDIT_LOT", id: lotId, sizeMicros: lotAmount, remainingMicros: lotAmount, purchasedAt: lotBought, expiresAt: addOneYear(lotBought) });
      const packs: { tokens: bigint; bought: number; channel: "RESELLER" | "ESTORE" }[] = [
        { tokens: 1000n * TOKEN, bought: now - 400 * DAY, channel: "RESELLER" },
        { tokens: 5000n * TOKEN, bought: now - 180 * DAY, channel: "RESELLER" },
        { tokens: 100n * TOKEN, bought: now - 20 * DAY, channel: "ESTORE" },
      ];
      packs.forEach((pack, index) => {
        const orderRef = `bench-order-${accountId}-${index + 1}`;
        const seller = pack.channel === "RESELLER" ? resellerId : null;
        const print = fingerprint({ accountId, tokensMicros: pack.tokens, purchasedAt: pack.bought, channel: pack.channel, resellerId: seller, unitPrice: null, currency: null });
        const expiresAt = addOneYear(pack.bought);
        const packId = Number(
          insertPack.run(accountId, Number(pack.tokens), Number(pack.tokens), pack.bought, expiresAt, pack.channel, seller, orderRef, print, pack.bought).lastInsertRowid,
        );
        own.push({ kind: "FLEX_PACK", id: packId, sizeMicros: pack.tokens, remainingMicros: pack.tokens, purchasedAt: pack.bought, expiresAt });
      });
      sources.set(accountId, own);
    }
  });
  setup();

  // Charges in time order, as they would have arrived, across random accounts.
  const progress = new Progress("generating charges", options.charges, showProgress);
  const historyStart = now - 365 * DAY;
  const step = options.charges > 0 ? (365 * DAY - 60_000) / options.charges : 0;
  const clients = ["app-viewer", "app-batch", "app-design", null];
  const outcomes: Outcome[] = ["SUCCEEDED", "SUCCEEDED", "SUCCEEDED", "SUCCEEDED", "SUCCEEDED", "SUCCEEDED", "SUCCEEDED", "SUCCEEDED", "SUCCEEDED", "FAILED"];
  let allocationCount = 0;
  const CHUNK = 50_000;
  const writeChunk = sqlite.transaction((from: number, to: number) => {
    for (let i = from; i < to; i++) {
      const occurredAt = Math.floor(historyStart + i * step);
      const accountId = accountIds[Math.floor(random() * accountIds.length)]!;
      const usage = USAGE_MIX[Math.floor(random() * USAGE_MIX.length)]!;
      const price = priceInForce(versions.get(usage.apiCode) ?? [], occurredAt);
      if (!price) throw new Error(`no price for ${usage.apiCode} at ${new Date(occurredAt).toISOString()}`);
      const quantityMicros = usage.quantity(random);
      const outcome = outcomes[Math.floor(random() * outcomes.length)]!;
      const clientId = clients[Math.floor(random() * clients.length)]!;
      const tokensMicros = chargeMicros(price, quantityMicros, outcome);
      const own = sources.get(accountId)!;
      const decision = decideChargeOrThrow({
        costMicros: tokensMicros,
        occurredAt,
        policy: "NEGATIVE_WITH_GRACE",
        deficit: { deficitMicros: 0n, graceStartedAt: null },
        sources: own,
        now: occurredAt,
      });
      if (decision.allocations.some((part) => part.source === "DEFICIT")) {
        throw new Error(`account ${accountId} ran short at charge ${i}: give the generator bigger packs`);
      }
      const eventId = randomUUID();
      const event = { eventId: undefined, accountId, apiCode: usage.apiCode, quantityMicros, outcome, occurredAt, clientId, labels: {} };
      const ratedAt = occurredAt + 1 + Math.floor(random() * 5000);
      const chargeId = Number(
        insertCharge.run(eventId, fingerprint(event), accountId, usage.apiCode, price.id, Number(quantityMicros), outcome, occurredAt, ratedAt, clientId, Number(tokensMicros)).lastInsertRowid,
      );
      for (const part of decision.allocations) {
        insertAllocation.run(chargeId, accountId, part.source, part.source === "CREDIT_LOT" ? part.sourceId : null, part.source === "FLEX_PACK" ? part.sourceId : null, Number(part.amountMicros), occurredAt);
        allocationCount++;
      }
      if (decision.allocations.length > 0) sources.set(accountId, applyAllocations(own, decision.allocations));
    }
  });
  // Loading into unindexed tables and building each index once at the end is several times
  // faster than keeping five B-trees in order row by row. The definitions are read back from the
  // migrated schema, so the rebuilt indexes are exactly the migrations' own.
  const indexes = sqlite
    .prepare("select name, sql from sqlite_master where type = 'index' and tbl_name in ('usage_charges', 'allocations') and sql is not null")
    .all() as { name: string; sql: string }[];
  for (const index of indexes) sqlite.exec(`drop index "${index.name}"`);
  for (let from = 0; from < options.charges; from += CHUNK) {
    writeChunk(from, Math.min(options.charges, from + CHUNK));
    progress.tick(Math.min(options.charges, from + CHUNK));
  }
  progress.done();
  const indexProgress = new Progress("building indexes", indexes.length, showProgress);
  indexes.forEach((index, done) => {
    sqlite.exec(index.sql);
    indexProgress.tick(done + 1);
  });
  indexProgress.done();
  // The cached remaining amounts, written once at the end instead of once per charge.
  sqlite.transaction(() => {
    for (const own of sources.values()) for (const source of own) updateRemaining[source.kind as keyof typeof updateRemaining].run(Number(source.remainingMicros), source.id);
  })();
  sqlite.pragma("wal_checkpoint(TRUNCATE)");
  const seconds = (Date.now() - started) / 1000;

  let verifySeconds: number | null = null;
  let drift: number | null = null;
  if ((options.verify ?? "full") === "full") {
    const verifyStarted = Date.now();
    if (showProgress) process.stderr.write("verifying the ledger (recomputing every remaining amount)…\n");
    drift = (await createServices({ store: new SqliteStore(db), clock: () => now, rules: DEFAULT_RULES }).ledger.verify()).length;
    verifySeconds = (Date.now() - verifyStarted) / 1000;
  }
  sqlite.close();
  const bytes = statSync(options.path).size;
  return {
    path: options.path,
    accounts: options.accounts,
    resellers: resellerCount,
    charges: options.charges,
    firstAccountId: accountIds[0] ?? 0,
    lastAccountId: accountIds[accountIds.length - 1] ?? 0,
    allocations: allocationCount,
    seconds,
    verifySeconds,
    drift,
    bytes,
    mbPerMillionCharges: options.charges > 0 ? bytes / 1e6 / (options.charges / 1e6) : null,
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      db: { type: "string", default: "bench/results/generated.sqlite" },
      accounts: { type: "string", default: "10000" },
      charges: { type: "string", default: "1000000" },
      resellers: { type: "string" },
      "no-verify": { type: "boolean", default: false },
    },
  });
  const summary = await generateDatabase({
    path: values.db!,
    accounts: Number(values.accounts),
    charges: Number(values.charges),
    resellers: values.resellers ? Number(values.resellers) : undefined,
    verify: values["no-verify"] ? "none" : "full",
  });
  console.log(JSON.stringify(summary, null, 2));
  if (summary.drift) {
    console.error(`the generated ledger does not balance: ${summary.drift} drifts`);
    process.exitCode = 1;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
