/**
 * SIGTERM to the real server started as `npm run serve` starts it (node --import tsx), while
 * clients keep recording usage and one request is caught half-sent.
 */
import { request } from "node:http";
import { afterAll, expect, it } from "vitest";
import { expectSoundLedger, newLedgerFile, TEST_ACTOR, walSize } from "./support/ledger-file.js";
import { expectNoInternalError } from "./support/safe-errors.js";
import { post, sleep, startServer, TSX } from "./support/server-process.js";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const CLIENTS = 8;
const RECORD = `mutation Record($input: UsageInput!) { recordUsage(input: $input) { replayed charge { id eventId } } }`;

const cleanups: (() => void)[] = [];
afterAll(() => cleanups.forEach((cleanup) => cleanup()));

/**
 * A request whose headers and first half of the body are sent now and the rest when `finish` is
 * called: the server holds it in flight, mid-body, for as long as the test wants. `held` resolves
 * once the server has parsed its headers and taken it as a request: Node answers
 * `Expect: 100-continue` with "100 Continue" just as it hands the request to the server's handlers.
 */
function halfSentRequest(url: string, key: string, body: string) {
  const { hostname, port } = new URL(url);
  const bytes = Buffer.from(body);
  const half = Math.floor(bytes.length / 2);
  let finish = () => {};
  let held!: Promise<void>;
  const answer = new Promise<{ status: number; body: any }>((resolve, reject) => {
    const headers = { "content-type": "application/json", "content-length": bytes.length, authorization: `Bearer ${key}`, expect: "100-continue" };
    const req = request(
      { hostname, port, path: "/graphql", method: "POST", headers },
      (res) => {
        let text = "";
        res.on("data", (chunk: Buffer) => (text += chunk.toString("utf8")));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    held = new Promise((resolve) => req.once("continue", () => resolve()));
    req.write(bytes.subarray(0, half));
    finish = () => req.end(bytes.subarray(half));
  });
  return { answer, held, finish: () => finish() };
}

it("finishes in-flight requests on SIGTERM, acknowledges only what it committed, exits 0 and leaves no WAL behind", async () => {
  const file = newLedgerFile();
  cleanups.push(() => file.remove());
  const now = Date.now();
  const seeded = await file.with(async (services) => {
    const { id } = await services.accounts.create({ name: "Shutdown", country: "JP" }, TEST_ACTOR);
    await services.funding.recordFlexPurchase({ accountId: id, tokensMicros: 10_000_000_000n, purchasedAt: now - DAY, channel: "ESTORE", orderRef: "shutdown-seed" }, TEST_ACTOR);
    return { accountId: String(id), metering: (await services.keys.create({ name: "shutdown metering", role: "METERING" }, TEST_ACTOR)).secret };
  });
  const server = await startServer({ dbPath: file.path, launcher: TSX });
  const input = (eventId: string) => ({
    eventId,
    accountId: seeded.accountId,
    apiCode: "design-automation/revit",
    quantity: "90",
    outcome: "SUCCEEDED",
    occurredAt: new Date(now - HOUR).toISOString(),
  });

  const acknowledged: string[] = [];
  const answeredAfterSignal: string[] = [];
  let signalled = false;
  let lost = 0;
  let sequence = 0;
  const client = async () => {
    for (;;) {
      const eventId = `shutdown-${++sequence}`;
      const outcome = await post(server.url, seeded.metering, RECORD, { input: input(eventId) });
      if (outcome.kind === "lost") {
        lost++;
        if (signalled) return;
        continue;
      }
      expectNoInternalError(outcome.body);
      if (outcome.status === 200 && outcome.body.data?.recordUsage) {
        expect(outcome.body.data.recordUsage.charge.eventId).toBe(eventId);
        acknowledged.push(eventId);
        if (signalled) answeredAfterSignal.push(eventId);
      }
    }
  };

  try {
    const clients = Array.from({ length: CLIENTS }, client);
    // Until usage is flowing, however slowly the machine warms the server up: a fixed pause
    // saw fewer than CLIENTS answers when other suites were loading both cores.
    for (const giveUp = Date.now() + 15_000; acknowledged.length <= CLIENTS && Date.now() < giveUp; ) await sleep(20);
    const inFlight = halfSentRequest(server.url, seeded.metering, JSON.stringify({ query: RECORD, variables: { input: input("shutdown-in-flight") } }));
    await inFlight.held;
    const acknowledgedBeforeSignal = acknowledged.length;
    signalled = true;
    server.child.kill("SIGTERM");
    // The half-sent request is already in the server's hands: it must still be answered.
    await sleep(300);
    inFlight.finish();
    const slow = await inFlight.answer;
    expectNoInternalError(slow.body);
    expect(slow).toMatchObject({ status: 200, body: { data: { recordUsage: { replayed: false, charge: { eventId: "shutdown-in-flight" } } } } });
    acknowledged.push("shutdown-in-flight");

    const exit = await Promise.race([server.exited, sleep(15_000).then(() => "still running")]);
    expect(exit).toEqual({ code: 0, signal: null });
    await Promise.all(clients);
    expect(acknowledgedBeforeSignal).toBeGreaterThan(CLIENTS);
    expect(server.output()).toContain('"message":"received SIGTERM: finishing in-flight requests"');
    expect(server.output()).toContain('"message":"Flexgate stopped"');
    expect(server.output()).not.toContain('"level":"error"');
    console.info(
      `graceful shutdown: ${acknowledged.length} events acknowledged (${answeredAfterSignal.length} answered after SIGTERM, the half-sent one included), ${lost} requests refused once the port closed`,
    );
  } finally {
    server.child.kill("SIGKILL");
  }

  // A clean close checkpoints the WAL into the database and removes it.
  expect(walSize(file.path)).toBeLessThanOrEqual(0);
  await file.with(async (services, db) => {
    await expectSoundLedger(services, db);
    const stored = new Set(db.$client.prepare("select event_id from usage_charges").pluck().all() as string[]);
    expect(acknowledged.filter((eventId) => !stored.has(eventId))).toEqual([]);
  });
}, 60_000);

it("shuts down cleanly on a SIGTERM sent the instant the server says it is listening", async () => {
  const file = newLedgerFile();
  cleanups.push(() => file.remove());
  // An orchestrator may stop a replica as soon as it reports ready; the signal must find the
  // handlers already installed, not Node's default action.
  for (let attempt = 0; attempt < 2; attempt++) {
    const server = await startServer({ dbPath: file.path, launcher: TSX });
    server.child.kill("SIGTERM");
    const exit = await Promise.race([server.exited, sleep(15_000).then(() => "still running")]);
    expect(exit, server.output()).toEqual({ code: 0, signal: null });
    expect(server.output()).toContain('"message":"Flexgate stopped"');
  }
  expect(walSize(file.path)).toBeLessThanOrEqual(0);
  await file.with((services, db) => expectSoundLedger(services, db));
}, 60_000);
