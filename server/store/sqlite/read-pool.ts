/**
 * Heavy reads off the writer's loop: a piscina pool of worker threads, each with its own
 * read-only connection to the same SQLite file. WAL lets those readers run while the main
 * connection writes, so a year of usage summed on a worker never delays a metering write or any
 * other request on the main loop.
 *
 * A snapshot is a session on one worker: the work runs here, and each read it makes crosses to
 * the worker, which answers it inside one read transaction, so the reads agree as `snapshot`
 * promises. A report (services/reports.ts) runs whole on the worker, in one read transaction,
 * and only its answer crosses: the rows it reads and the work of summing them stay off this
 * loop. Answers cross by structured clone, which keeps bigints, Maps and plain objects.
 */
import { availableParallelism } from "node:os";
import { MessageChannel } from "node:worker_threads";
import { Piscina } from "piscina";
import { FlexgateError } from "../../core/errors.js";
import { log } from "../../log.js";
import type { StoreReads } from "../port.js";
import { rebuilt } from "./crossing.js";
import type { SynchronousMode } from "./database.js";
import type { CheckpointTask, ReadAnswer, ReadRequest, ReportAnswer, ReportTask, SessionTask } from "./read-worker.js";
import { threadsLoaded } from "./threads-loaded.js";
import { workerEntry } from "./worker-entry.js";

/**
 * The reads that scan a window of the ledger rather than a few rows: called on their own, they
 * run on the pool too.
 */
export const HEAVY_READS = ["ledgerAsOf", "chargedSince", "dailyUsage", "usageGroupsSince", "exportPage", "recomputeLedger"] as const satisfies readonly (keyof StoreReads)[];

/**
 * A thread for each core the main loop leaves, at least one and at most two: more would only take
 * turns with the main loop, and each holds a heap of its own (about 18 MB idle).
 */
export const defaultReadThreads = () => Math.min(2, Math.max(1, availableParallelism() - 1));

/** How often a thread of the pool checkpoints the WAL (see startCheckpoints). */
const CHECKPOINT_EVERY_MS = 200;

export class ReadPool {
  private readonly pool: Piscina<SessionTask | ReportTask | CheckpointTask, ReportAnswer | void>;
  private readonly loaded: Promise<void>;
  private checkpoints: { readonly timer: NodeJS.Timeout; running: Promise<void> | null } | null = null;

  constructor(
    private readonly path: string,
    threads: number,
    private readonly methods: readonly (keyof StoreReads)[],
  ) {
    this.pool = new Piscina({
      ...workerEntry("read-worker"),
      // Every thread opens its connection at start and keeps it: a session never waits for one.
      minThreads: threads,
      maxThreads: threads,
      idleTimeout: Number.POSITIVE_INFINITY,
      // Reads are background work: on a machine with no core to spare, the kernel runs the
      // writer's loop first (piscina applies it with @napi-rs/nice, per thread on Linux).
      niceIncrement: 10,
      // A read's rows live for one session: a small young generation holds them, where V8's
      // default would give every thread a heap as large as the main thread's.
      resourceLimits: { maxYoungGenerationSizeMb: 8 },
    });
    // A thread that fails (its file missing from a build) fails the reads it was given; the
    // server goes on answering everything else.
    this.pool.on("error", (error: unknown) => log.error("a read pool thread failed", { error: String(error) }));
    this.loaded = threadsLoaded(this.pool);
  }

  async snapshot<T>(work: (reads: StoreReads) => Promise<T>): Promise<T> {
    const { port1: port, port2 } = new MessageChannel();
    const waiting = new Map<number, { resolve: (value: unknown) => void; reject: (error: unknown) => void }>();
    let lastId = 0;
    port.on("message", (answer: ReadAnswer) => {
      const call = waiting.get(answer.id)!;
      waiting.delete(answer.id);
      if ("error" in answer) call.reject(answer.error);
      else call.resolve(answer.value);
    });
    const session = this.pool.run({ path: this.path, port: port2 }, { transferList: [port2] });
    // A session that fails (the file cannot be opened) fails the reads still waiting on it.
    const ended = session.then(
      () => null,
      (error: unknown) => {
        for (const call of waiting.values()) call.reject(error);
        waiting.clear();
        return { error };
      },
    );
    const reads = Object.fromEntries(
      this.methods.map((method) => [
        method,
        (...args: unknown[]) =>
          new Promise((resolve, reject) => {
            const id = ++lastId;
            waiting.set(id, { resolve, reject });
            port.postMessage({ id, method, args } satisfies ReadRequest);
          }),
      ]),
    ) as unknown as StoreReads;
    try {
      return await work(reads);
    } finally {
      port.postMessage(null satisfies ReadRequest);
      const failure = await ended;
      port.close();
      if (failure) throw failure.error;
    }
  }

  /** Runs the report of this name (services/reports.ts) on a worker; its refusal is thrown as the FlexgateError it was. */
  async report<R>(name: string, args: readonly unknown[]): Promise<R> {
    const answer = (await this.pool.run({ path: this.path, name, args } satisfies ReportTask, { name: "runReport" })) as ReportAnswer;
    if ("value" in answer) return answer.value as R;
    if ("refused" in answer) throw new FlexgateError(answer.refused.code, answer.refused.message, answer.refused.field);
    throw rebuilt(answer.failed);
  }

  /**
   * Checkpoints the WAL on a thread of the pool every CHECKPOINT_EVERY_MS. SQLite otherwise runs a
   * checkpoint inside the commit that fills the WAL (10,000 pages, database.ts), on the writer's
   * loop: it copies the WAL back into the database file and syncs it, which on a million-charge
   * ledger held that loop long enough to put B4's p99 at 100 ms (44 ms with no checkpoint during
   * the run). The pool's checkpoints let the writer start the WAL over before it fills; under a
   * load that never pauses, the writer's own still runs when it fills, to keep the WAL at its
   * size, but finds most of it copied already.
   */
  startCheckpoints(synchronous: SynchronousMode): void {
    const timer = setInterval(() => {
      if (!this.checkpoints || this.checkpoints.running) return;
      this.checkpoints.running = this.pool
        .run({ path: this.path, synchronous } satisfies CheckpointTask, { name: "checkpoint" })
        .then(
          () => undefined,
          (error: unknown) => log.warn("a checkpoint on the read pool failed; the writer's own will run", { error: String(error) }),
        )
        .finally(() => {
          if (this.checkpoints) this.checkpoints.running = null;
        });
    }, CHECKPOINT_EVERY_MS);
    timer.unref();
    this.checkpoints = { timer, running: null };
  }

  /** Waits for the threads still loading, and a checkpoint under way: a server stopped as it starts must not abort. */
  async close(): Promise<void> {
    if (this.checkpoints) {
      clearInterval(this.checkpoints.timer);
      await this.checkpoints.running;
    }
    await this.loaded;
    await this.pool.destroy();
  }
}
