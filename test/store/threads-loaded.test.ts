/**
 * A pool is destroyed only after its threads have loaded their module: Node 20 aborts the process
 * when a thread is terminated while it instantiates ES modules (a server stopped as it starts).
 */
import { Piscina } from "piscina";
import { describe, expect, it } from "vitest";
import { threadsLoaded } from "../../server/store/sqlite/threads-loaded.js";

const fixture = (name: string) => new URL(`../fixtures/threads/${name}`, import.meta.url).href;

/** For each thread, in order: "loaded" when piscina's ready message came, "exited" when it ended. */
function watch(pool: Piscina): string[][] {
  return pool.threads.map((thread) => {
    const events: string[] = [];
    thread.on("message", (message: unknown) => {
      if (typeof message === "object" && message !== null && "_WORKER_READY" in message) events.push("loaded");
    });
    thread.on("exit", () => events.push("exited"));
    return events;
  });
}

describe("threadsLoaded", () => {
  it("resolves only after every thread has loaded its module, so destroying then ends loaded threads", async () => {
    const pool = new Piscina({ filename: fixture("slow-to-load.mjs"), minThreads: 2, maxThreads: 2 });
    const events = watch(pool);
    await threadsLoaded(pool);
    await pool.destroy();
    expect(events).toEqual([
      ["loaded", "exited"],
      ["loaded", "exited"],
    ]);
  });

  it("ends a thread still loading when the pool is destroyed without it (what it prevents)", async () => {
    const pool = new Piscina({ filename: fixture("slow-to-load.mjs"), minThreads: 1, maxThreads: 1 });
    const events = watch(pool);
    await pool.destroy();
    expect(events).toEqual([["exited"]]);
  });

  it("resolves when a thread fails to load its module and exits", async () => {
    const pool = new Piscina({ filename: fixture("fails-to-load.mjs"), minThreads: 1, maxThreads: 1 });
    pool.on("error", () => undefined);
    const events = watch(pool);
    await threadsLoaded(pool);
    expect(events).toEqual([["exited"]]);
    await pool.destroy();
  });
});
