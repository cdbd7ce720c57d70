/**
 * The store's unit context: work inside a unit sees it, and once no unit is open the context is
 * switched off, so Node 20's promise hooks stop taxing every promise of the process.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { UnitContext } from "../../server/store/unit-context.js";
import { openTestStore, type TestStore } from "../fixtures/test-store.js";

/**
 * Whether a promise made now carries async-hook bookkeeping, which Node 20 adds to every promise
 * while an AsyncLocalStorage is enabled. Node stops the hooks in a microtask after the last
 * storage is disabled, hence the await.
 */
async function promisesTracked(): Promise<boolean> {
  await null;
  return Object.getOwnPropertySymbols(Promise.resolve()).some((symbol) => symbol.description === "async_id_symbol");
}

/**
 * Whether this runtime's AsyncLocalStorage tracks promises through hooks at all, as Node 20 and 22
 * do; Node 24's AsyncContextFrame keeps the context without them, and has nothing to switch off.
 */
const hooksTrackPromises = await (async () => {
  const probe = new AsyncLocalStorage<object>();
  const tracked = await probe.run({}, promisesTracked);
  probe.disable();
  return tracked;
})();

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((settle) => (resolve = settle));
  return { promise, resolve };
}

describe("UnitContext", () => {
  it("gives a unit's work, and whatever it awaits, its unit, and gives nothing outside one", async () => {
    const units = new UnitContext<{ name: string }>();
    const seen = await units.run({ name: "a" }, async () => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      return units.current()?.name;
    });
    expect(seen).toBe("a");
    expect(units.current()).toBeUndefined();
  });

  it("keeps a unit still open in its context when another one ends first", async () => {
    const units = new UnitContext<{ name: string }>();
    const firstMayEnd = deferred();
    const secondMayEnd = deferred();
    const first = units.run({ name: "first" }, () => firstMayEnd.promise);
    const second = units.run({ name: "second" }, async () => {
      await secondMayEnd.promise;
      return { name: units.current()?.name, tracked: await promisesTracked() };
    });
    firstMayEnd.resolve();
    await first;
    secondMayEnd.resolve();
    expect(await second).toEqual({ name: "second", tracked: hooksTrackPromises });
  });

  it("switches the promise hooks off when the last open unit ends, and on again for the next", async () => {
    const units = new UnitContext<{ name: string }>();
    expect(await units.run({ name: "a" }, promisesTracked)).toBe(hooksTrackPromises);
    expect(await promisesTracked()).toBe(false);
    expect(await units.run({ name: "b" }, promisesTracked)).toBe(hooksTrackPromises);
    expect(await promisesTracked()).toBe(false);
  });

  it("ends a unit whose work fails like one that succeeds", async () => {
    const units = new UnitContext<{ name: string }>();
    await expect(units.run({ name: "a" }, () => Promise.reject(new Error("refused")))).rejects.toThrow("refused");
    expect(units.current()).toBeUndefined();
    expect(await promisesTracked()).toBe(false);
  });
});

describe("a store's units", () => {
  let subject: TestStore;
  beforeEach(async () => {
    subject = await openTestStore();
  });
  afterEach(() => subject.close());

  it("leave no promise hook behind once written, nested or not", async () => {
    const inside = await subject.store.write({}, async () => {
      const nested = await subject.store.write({}, promisesTracked);
      return [await promisesTracked(), nested];
    });
    expect(inside).toEqual([hooksTrackPromises, hooksTrackPromises]);
    expect(await promisesTracked()).toBe(false);
    await subject.store.snapshot(async () => undefined);
    expect(await promisesTracked()).toBe(false);
  });
});
