/**
 * Rating off the main loop. A group's reads, decisions, writes and durable commit run on one
 * worker thread (piscina, one thread) with its own connection to the SQLite file, while the main
 * loop goes on reading requests, validating the next events and answering the last group's
 * callers. SQLite still has one writer: the store hands the thread a group only in the main
 * connection's turn, so the two connections never wait on each other's write lock.
 */
import { Piscina } from "piscina";
import { FlexgateError } from "../../core/errors.js";
import type { Instant } from "../../core/time.js";
import type { RatingOutcome, RatingRequest, RatingRules } from "../port.js";
import type { SynchronousMode } from "./database.js";
import { rebuilt } from "./crossing.js";
import type { RatingTask, TaskAnswer } from "./rating-worker.js";
import { workerEntry } from "./worker-entry.js";

export class RatingThread {
  private readonly pool: Piscina<RatingTask, TaskAnswer>;

  constructor(
    private readonly path: string,
    private readonly synchronous: SynchronousMode,
  ) {
    this.pool = new Piscina({
      ...workerEntry("rating-worker"),
      minThreads: 1,
      maxThreads: 1,
      idleTimeout: Number.POSITIVE_INFINITY,
      // A group's objects live for one task: a small young generation holds them, where V8's
      // default would grow a second heap as large as the main thread's.
      resourceLimits: { maxYoungGenerationSizeMb: 8 },
    });
    this.ready = this.pool.run({ kind: "open", path, synchronous }).then(() => undefined);
    // Awaited by SqliteStore.ready; a failure here also fails the first group, which waits behind it.
    this.ready.catch(() => undefined);
  }

  /** Resolves when the thread has loaded and opened its connection. */
  readonly ready: Promise<void>;

  async rate(requests: readonly RatingRequest[], now: Instant, rules: RatingRules): Promise<RatingOutcome[]> {
    const answer = await this.pool.run({ kind: "rate", path: this.path, synchronous: this.synchronous, requests, now, rules });
    if (!answer || "failed" in answer) throw answer ? rebuilt(answer.failed) : new Error("the rating thread gave no answer");
    return answer.outcomes.map((outcome): RatingOutcome => {
      if (!outcome.error) return outcome;
      const { code, message, field, cause } = outcome.error;
      const error = new FlexgateError(code, message, field);
      return { error: cause === undefined ? error : Object.assign(error, { cause: rebuilt(cause) }) };
    });
  }

  async close(): Promise<void> {
    await this.pool.run({ kind: "close" });
    await this.pool.destroy();
  }
}
