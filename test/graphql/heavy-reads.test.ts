/**
 * Heavy fields (usage reports, forecasts, balances in the past) are priced at the work they do,
 * so one request may make only a few of them, and each gives the event loop a turn first: other
 * clients keep being answered while the worst allowed request runs.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { at } from "../fixtures/harness.js";
import { fillBusyAccount } from "../fixtures/busy-account.js";
import { startTestServer, type TestServer } from "../fixtures/server.js";
import { createWorld, errorCodes, postAlone, type World } from "./support.js";
import { timeLimit } from "../fixtures/engine.js";

/**
 * Charges of the busy account, spread over the year before now. One heavy read holds the loop
 * for as long as it scans (a year of daily usage over these takes about 90 ms of CPU), so the size
 * sets the pings' wait; the request as a whole never holds it for more than one read.
 */
const CHARGES = 20_000;
const NOW = "2024-06-01T00:00:00Z";

let server: TestServer;
let world: World;
let accountId: string;

beforeAll(async () => {
  server = await startTestServer({ now: NOW });
  world = await createWorld(server, 1);
  accountId = world.own.accountIds[0]!;
  await fillBusyAccount(server, Number(accountId), CHARGES, at(NOW));
  // The fill held the loop: let the server close the connections it found idle meanwhile
  // before the next request could reuse one.
  await new Promise((resolve) => setTimeout(resolve, 200));
}, timeLimit(60_000));

afterAll(() => server.close());

const aliases = (count: number, selection: string) => Array.from({ length: count }, (_, i) => `a${i}: ${selection}`).join("\n");
const onAccount = (selection: string) => `query($id: ID!) { account(id: $id) { ${selection} } }`;
const yearByDay = `usageSummary(from: "2023-06-01", to: "${NOW}", groupBy: DAY) { periodStart apiCode tokens }`;
const monthByDay = `usageSummary(from: "2024-05-01", to: "${NOW}", groupBy: DAY) { periodStart apiCode tokens }`;
const forecast = "forecast { burnRatePerDay depletesAt expiringUnused }";
const pastBalance = `balance(asOf: "2024-03-01") { available }`;

/** The most copies of each heavy read that one request may make, and one more. */
const WORST_ALLOWED = [
  ["a year of daily usage", 1, yearByDay],
  ["a month of daily usage", 2, monthByDay],
  ["the forecast", 3, forecast],
  ["the balance in the past", 2, pastBalance],
] as const;

describe("heavy reads", () => {
  it.each(WORST_ALLOWED)("answers %s %i times in one request, and refuses one more", async (_label, allowed, selection) => {
    const answered = await server.graphql(onAccount(aliases(allowed, selection)), { id: accountId });
    expect(answered.body.errors, JSON.stringify(answered.body.errors)).toBeUndefined();
    const refused = await server.graphql(onAccount(aliases(allowed + 1, selection)), { id: accountId });
    expect(refused.status).toBe(400);
    expect(errorCodes(refused.body)).toEqual(["QUERY_TOO_COMPLEX"]);
  });

  it.each([
    ["forty daily usage reports", aliases(40, monthByDay)],
    ["fifty forecasts", aliases(50, forecast)],
  ])("refuses %s in one request", async (_label, selection) => {
    const { status, body } = await server.graphql(onAccount(selection), { id: accountId });
    expect(status).toBe(400);
    expect(errorCodes(body)).toEqual(["QUERY_TOO_COMPLEX"]);
  });

  it("answers another key's pings every 50 ms with p99 under 250 ms while the worst allowed requests run", async () => {
    const pinger = await server.key("INTEGRATOR");
    const latencies: number[] = [];
    const inFlight: Promise<void>[] = [];
    const ping = async () => {
      const started = performance.now();
      expect(await postAlone(server.url, pinger, { query: "{ __typename }" })).toBe('{"data":{"__typename":"Query"}}\n');
      latencies.push(performance.now() - started);
    };
    const timer = setInterval(() => inFlight.push(ping()), 50);
    const heavy: number[] = [];
    try {
      // Eight rounds at least, and on until 40 pings have gone out: a fast machine ran the eight
      // in little more than half a second, too few pings to judge by.
      for (let round = 0; round < 8 || (inFlight.length < 40 && round < 200); round++) {
        for (const [, allowed, selection] of WORST_ALLOWED) {
          const started = performance.now();
          const { body } = await server.graphql(onAccount(aliases(allowed, selection)), { id: accountId });
          expect(body.errors).toBeUndefined();
          heavy.push(performance.now() - started);
        }
      }
    } finally {
      clearInterval(timer);
    }
    await Promise.all(inFlight);
    latencies.sort((a, b) => a - b);
    const p99 = latencies[Math.ceil(latencies.length * 0.99) - 1]!;
    console.log(`heavy requests ${heavy.map((ms) => ms.toFixed(0)).join(", ")} ms; ${latencies.length} pings, p50 ${latencies[Math.floor(latencies.length / 2)]!.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, max ${latencies.at(-1)!.toFixed(1)} ms`);
    expect(latencies.length).toBeGreaterThan(10);
    expect(p99).toBeLessThan(250);
  }, timeLimit(60_000));
});
