import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { formatMicros } from "../../server/core/money.js";
import { createServices } from "../../server/services/index.js";
import { openDatabase } from "../../server/store/sqlite/database.js";
import { ENGINE, onSqliteOnly } from "../fixtures/engine.js";
import { aFlexPack, anAccount, aUsageEvent, createHarness, type Harness } from "../fixtures/harness.js";
import { dbSnapshot, remainingOf, scalar } from "../fixtures/ledger-assertions.js";

let h: Harness;
afterEach(() => h.close());

interface Outcome {
  eventId: string;
  chargeId?: number;
  replayed?: boolean;
  code?: string;
}

const WORKER = fileURLToPath(new URL("./concurrency/drain-worker.ts", import.meta.url));
const OPEN_WORKER = fileURLToPath(new URL("./concurrency/open-worker.ts", import.meta.url));

interface Worker {
  readonly child: ChildProcessWithoutNullStreams;
  readonly ready: Promise<void>;
  readonly done: Promise<Outcome[]>;
}

function startWorker(args: { accountId: number; name: string; events: number; shared: number; mode: "single" | "batch" }): Worker {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", WORKER, h.file?.path ?? h.url!, String(args.accountId), args.name, String(args.events), String(h.now()), args.mode, String(args.shared)],
    { stdio: ["pipe", "pipe", "pipe"] },
  );
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const lines = createInterface({ input: child.stdout });
  let markReady: () => void;
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  const done = new Promise<Outcome[]>((resolve, reject) => {
    let result: Outcome[] | null = null;
    lines.on("line", (line) => {
      if (line === "ready") markReady();
      else result = JSON.parse(line) as Outcome[];
    });
    child.on("close", (code) => (code === 0 && result ? resolve(result) : reject(new Error(`worker ${args.name} exited ${code}: ${stderr}`))));
  });
  return { child, ready, done };
}

/** Runs the open worker to its end and returns its per-round results. */
function openRounds(dir: string, rounds: number, startAt: number, gapMs: number): Promise<(string | null)[]> {
  const child = spawn(process.execPath, ["--import", "tsx", OPEN_WORKER, dir, String(rounds), String(startAt), String(gapMs)]);
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) =>
    child.on("close", (code) => (code === 0 ? resolve(JSON.parse(stdout) as (string | null)[]) : reject(new Error(`open worker exited ${code}: ${stderr}`)))),
  );
}

describe.skipIf(ENGINE !== "sqlite")(`processes opening one new SQLite file together${onSqliteOnly("about SQLite files and WAL")}`, () => {
  it("both open and migrate it, every time, though only one may switch it to WAL", async () => {
    h = await createHarness();
    const rounds = 12;
    // Far enough ahead for both workers to have loaded; then a round every 150 ms.
    const startAt = Date.now() + 3_000;
    const { dir } = h.file!;
    const results = await Promise.all([openRounds(dir, rounds, startAt, 150), openRounds(dir, rounds, startAt, 150)]);
    expect(results.flat().filter((error) => error !== null)).toEqual([]);
    expect(results.flat()).toHaveLength(2 * rounds);
    const last = openDatabase({ path: `${dir}/round-${rounds - 1}.sqlite`, synchronous: "NORMAL" });
    expect(last.$client.pragma("journal_mode", { simple: true })).toBe("wal");
    last.$client.close();
  }, 30_000);
});

describe("concurrent writers on one database", () => {
  it("never double-spend: three processes draining one HARD_STOP account take exactly the funds, each event once", async () => {
    h = await createHarness();
    const account = await anAccount(h, { balancePolicy: "HARD_STOP" });
    const pack = await aFlexPack(h, account.id, { tokens: "100" });

    // 3 × (150 own + 40 shared) events of 0.5 tokens ask for far more than the 100 tokens held.
    const workers = [
      startWorker({ accountId: account.id, name: "alpha", events: 150, shared: 40, mode: "single" }),
      startWorker({ accountId: account.id, name: "beta", events: 150, shared: 40, mode: "single" }),
      startWorker({ accountId: account.id, name: "gamma", events: 150, shared: 40, mode: "batch" }),
    ];
    await Promise.all(workers.map((worker) => worker.ready));
    for (const worker of workers) worker.child.stdin.end("go\n");
    const outcomes = (await Promise.all(workers.map((worker) => worker.done))).flat();

    // Every event either got a charge or the one refusal a HARD_STOP account can give.
    expect(outcomes.filter((o) => o.chargeId === undefined).every((o) => o.code === "INSUFFICIENT_BALANCE")).toBe(true);
    const charged = outcomes.filter((o) => o.chargeId !== undefined && !o.replayed);
    expect(charged).toHaveLength(200);
    expect(new Set(charged.map((o) => o.eventId)).size).toBe(200);

    // The funds were spent exactly once, down to zero and not beyond.
    expect(formatMicros(BigInt(await scalar(h.sql, "select coalesce(sum(amount_micros), 0) from allocations")))).toBe("100");
    expect(await scalar(h.sql, "select count(*) from allocations where source = 'DEFICIT'")).toBe(0);
    expect(await remainingOf(h.sql, "FLEX_PACK", pack.id)).toBe("0");
    expect(await scalar(h.sql, "select count(*) from usage_charges")).toBe(200);
    expect(await h.services.ledger.verify()).toEqual([]);

    // A shared event charged by one process is a replay for the other, never a second charge.
    for (let i = 0; i < 40; i++) {
      const mine = outcomes.filter((o) => o.eventId === `shared-${i}`);
      const fresh = mine.filter((o) => o.chargeId !== undefined && !o.replayed);
      expect(fresh.length).toBeLessThanOrEqual(1);
      expect(await scalar(h.sql, "select count(*) from usage_charges where event_id = ?", `shared-${i}`)).toBe(fresh.length);
      if (fresh.length === 1) expect(mine.every((o) => o.chargeId === fresh[0]!.chargeId)).toBe(true);
    }

    // The processes really did take turns on the write lock.
    const order = await h.sql.column<string>("select event_id from usage_charges order by id");
    const owners = order.filter((id) => !id.startsWith("shared-")).map((id) => id.split("-")[0]);
    const switches = owners.filter((owner, i) => i > 0 && owner !== owners[i - 1]).length;
    expect(switches).toBeGreaterThan(2);
  });

  it("sees another connection's drain at once: two services on one database never spend the same tokens", async () => {
    h = await createHarness();
    const account = await anAccount(h);
    const pack = await aFlexPack(h, account.id, { tokens: "100" });
    const second = createServices({ store: h.another(), clock: h.now, rules: h.services.context.rules });
    for (let i = 0; i < 110; i++) {
      const services = i % 2 === 0 ? h.services : second;
      await services.rating.recordUsage(aUsageEvent(account.id, { quantity: "2" }));
    }
    // 110 tokens charged against 100 held: 10 owed, seen the same from both connections.
    expect(await remainingOf(h.sql, "FLEX_PACK", pack.id)).toBe("0");
    expect(formatMicros((await second.accounts.find(account.id))!.deficitMicros)).toBe("10");
    expect(await second.ledger.verify()).toEqual([]);
  });

  it.skipIf(ENGINE !== "sqlite")(
    `makes a writer wait for another connection's open write and give up without writing${onSqliteOnly("SQLite's file write lock and busy timeout")}`,
    async () => {
      h = await createHarness();
      const account = await anAccount(h);
      await aFlexPack(h, account.id);
      const services = createServices({ store: h.another({ busyTimeoutMs: 50 }), clock: h.now, rules: h.services.context.rules });
      const before = await dbSnapshot(h.sql);
      const { db } = h.file!;
      db.$client.exec("begin immediate");
      const event = aUsageEvent(account.id);
      await expect(services.rating.recordUsage(event)).rejects.toThrow(/locked|busy/i);
      db.$client.exec("rollback");
      expect(await dbSnapshot(h.sql)).toEqual(before);
      expect((await services.rating.recordUsage(event)).replayed).toBe(false);
    },
  );
});
