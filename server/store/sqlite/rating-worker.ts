/**
 * The rating thread (rating-thread.ts): a worker with its own read-write connection to the
 * SQLite file, which rates groups of usage events there with the store's own rateGroup. Outcomes
 * cross back by structured clone, which keeps bigints and plain objects but not an error's class:
 * a refusal crosses as its code, message and field.
 */
import type { ErrorCode } from "../../core/errors.js";
import type { Instant } from "../../core/time.js";
import type { RatingOutcome, RatingRequest, RatingRules } from "../port.js";
import { type CrossedError, crossed } from "./crossing.js";
import { openDatabase, type SynchronousMode } from "./database.js";
import { SqliteStore } from "./store.js";

export type RatingTask =
  | {
      readonly kind: "rate";
      readonly path: string;
      readonly synchronous: SynchronousMode;
      readonly requests: readonly RatingRequest[];
      readonly now: Instant;
      readonly rules: RatingRules;
    }
  | { readonly kind: "open"; readonly path: string; readonly synchronous: SynchronousMode }
  | { readonly kind: "close" };

export type CrossedOutcome =
  | Extract<RatingOutcome, { error?: undefined }>
  | { readonly error: { readonly code: ErrorCode; readonly message: string; readonly field: string | undefined; readonly cause: CrossedError | undefined } };

/** What the task answers: the group's outcomes, or the error that failed the whole group. */
export type TaskAnswer = { readonly outcomes: CrossedOutcome[] } | { readonly failed: CrossedError } | null;

let open: { readonly path: string; readonly store: SqliteStore } | null = null;

function storeFor(path: string, synchronous: SynchronousMode): SqliteStore {
  if (open?.path !== path) open = { path, store: new SqliteStore(openDatabase({ path, synchronous })) };
  return open.store;
}

export default async function runTask(task: RatingTask): Promise<TaskAnswer> {
  if (task.kind === "open") {
    storeFor(task.path, task.synchronous);
    return null;
  }
  if (task.kind === "close") {
    // Closing here rather than on the thread's termination lets the last connection to close
    // checkpoint the WAL away, as a clean shutdown promises.
    await open?.store.close();
    open = null;
    return null;
  }
  let outcomes: RatingOutcome[];
  try {
    outcomes = await storeFor(task.path, task.synchronous).rateGroup(task.requests, () => task.now, task.rules);
  } catch (error) {
    return { failed: crossed(error) };
  }
  return {
    outcomes: outcomes.map((outcome): CrossedOutcome => {
      if (!outcome.error) return outcome;
      const { code, message, field, cause } = outcome.error;
      return { error: { code, message, field, cause: cause === undefined ? undefined : crossed(cause) } };
    }),
  };
}
