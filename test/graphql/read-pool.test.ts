/**
 * Heavy reads (usage summaries, forecasts, balances in the past, price-change previews, the CSV
 * export, ledger verification) run on the read pool's threads over their own read-only
 * connections, so the loop that answers metering writes never waits for them.
 */
import { request as httpRequest } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_RULES } from "../../server/services/context.js";
import { createServices, type Services } from "../../server/services/index.js";
import { SqliteStore } from "../../server/store/sqlite/store.js";
import { at, OPERATOR, tokens } from "../fixtures/harness.js";
import { fillBusyAccount } from "../fixtures/busy-account.js";
import { startTestServer, type TestServer } from "../fixtures/server.js";
import { createWorld, usageInput, type World } from "./support.js";

const CHARGES = 30_000;
const NOW = "2024-06-01T00:00:00Z";

interface Setup {
  readonly server: TestServer;
  readonly world: World;
  /** The account the heavy reads scan. */
  readonly busyId: string;
  /** Statements run on the server's own (writer's) connection. */
  readonly statements: string[];
}

async function setUp(readThreads: number): Promise<Setup> {
  const statements: string[] = [];
  const server = await startTestServer({ now: NOW, readThreads, onStatement: (sql) => statements.push(sql) });
  const world = await createWorld(server, 1);
  const busyId = world.own.accountIds[0]!;
  await fillBusyAccount(server, Number(busyId), CHARGES, at(NOW));
  // The account that takes the metering writes holds enough tokens for all of them.
  await server.services.funding.recordFlexPurchase(
    { accountId: Number(world.other.accountIds[0]), tokensMicros: tokens("1000000"), purchasedAt: at("2024-05-01"), channel: "ESTORE", orderRef: "writes" },
    OPERATOR,
  );
  // The fill held the loop: let the server close the connections it found idle meanwhile.
  await new Promise((resolve) => setTimeout(resolve, 200));
  return { server, world, busyId, statements };
}

let pooled: Setup;
let inProcess: Setup;

beforeAll(async () => {
  pooled = await setUp(2);
  inProcess = await setUp(0);
}, 120_000);

afterAll(async () => {
  await pooled?.server.close();
  await inProcess?.server.close();
});

/** Figures as text, bigints exactly. */
const exact = (value: unknown) => JSON.stringify(value, (_key, field: unknown) => (typeof field === "bigint" ? `${field}n` : field));

async function everyHeavyRead(services: Services, accountId: number) {
  const rows = [];
  for await (const row of await services.insight.exportUsage(accountId, at("2023-06-01"), at(NOW))) rows.push(row);
  return {
    yearByDay: await services.insight.usageSummary(accountId, at("2023-06-01"), at(NOW), "DAY"),
    byMonth: await services.insight.usageSummary(accountId, at("2023-06-01"), at(NOW), "MONTH"),
    forecast: await services.insight.forecast(accountId),
    pastBalance: await services.insight.balanceAsOf(accountId, at("2024-03-01")),
    preview: await services.insight.previewPriceChange(
      { apiCode: "model-derivative/complex-job", meter: "JOB", unitQuantity: 1, tokensPerUnitMicros: tokens("0.4"), note: "cut" },
      90,
    ),
    exportRows: rows,
    verification: await services.ledger.verify(),
  };
}

describe("the read pool", () => {
  it("answers every heavy read with exactly the figures of the in-process read, without touching the writer's connection", async () => {
    const { server, busyId, statements } = pooled;
    const inline = createServices({ store: new SqliteStore(server.db), clock: server.now, rules: DEFAULT_RULES });
    const expected = await everyHeavyRead(inline, Number(busyId));
    statements.length = 0;
    const answered = await everyHeavyRead(server.services, Number(busyId));
    expect(exact(answered)).toBe(exact(expected));
    expect(answered.yearByDay.length).toBeGreaterThan(300);
    expect(answered.exportRows).toHaveLength(CHARGES);
    // The writer's connection only checked the account and the proposed price.
    expect(statements.filter((sql) => /usage_charges|allocations/.test(sql))).toEqual([]);
  }, 60_000);
});
