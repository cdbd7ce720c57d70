/**
 * With a read pool, the WAL is checkpointed on a thread of the pool soon after a commit, rather
 * than inside the writer's commit that fills it, on the main loop.
 */
import { statSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { aFlexPack, anAccount, aUsageEvent, type SqliteHarness, sqliteHarnesses } from "../fixtures/harness.js";

const opened = sqliteHarnesses();
const harness = (readThreads: number) => opened({ readThreads });

/** When the database file itself last changed: a checkpoint writes it, a commit only the WAL. */
const fileChangedAt = (h: SqliteHarness) => statSync(h.file.path).mtimeMs;

/** Resolves with whether the file changed within `ms`. */
async function fileChangesWithin(h: SqliteHarness, since: number, ms: number): Promise<boolean> {
  for (const started = Date.now(); Date.now() - started < ms; await new Promise((resolve) => setTimeout(resolve, 25))) {
    if (fileChangedAt(h) !== since) return true;
  }
  return false;
}

/** A few hundred charges: a few hundred WAL pages, far below the writer's own threshold. */
async function someUsage(h: SqliteHarness): Promise<void> {
  const account = await anAccount(h);
  await aFlexPack(h, account.id, { tokens: "1000", orderRef: `pack-${account.id}` });
  const results = await h.services.rating.recordUsageBatch(Array.from({ length: 300 }, (_, i) => aUsageEvent(account.id, { eventId: `checkpoint-${account.id}-${i}` })));
  expect(results.filter((result) => result.error)).toEqual([]);
}

describe("checkpoints", () => {
  it("copies the WAL into the file on the read pool soon after a commit", async () => {
    const h = await harness(1);
    await someUsage(h);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const before = fileChangedAt(h);
    await someUsage(h);
    // Checkpoints run every 200 ms on a niced thread; while other suites load both cores, the
    // kernel can leave that thread waiting for seconds. The wait ends at the first change.
    expect(await fileChangesWithin(h, before, 20_000)).toBe(true);
  }, 45_000);

  it("leaves the file untouched by a small commit without a read pool: the writer checkpoints only a full WAL", async () => {
    const h = await harness(0);
    await someUsage(h);
    const before = fileChangedAt(h);
    await someUsage(h);
    expect(await fileChangesWithin(h, before, 1_000)).toBe(false);
  });
});
