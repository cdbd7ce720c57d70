import { FlexgateError } from "../core/errors.js";
import { yieldTurns } from "../turns.js";
import type { BatchItemResult, CheckedItem, GroupItem, RatingService, RecordedUsage, UsageEvent } from "./rating.service.js";

export interface BatcherOptions {
  /**
   * A group is committed as soon as it holds this many events. A caller's events are never split
   * across groups, so a group may hold more when one caller brings more on its own.
   */
  readonly maxGroupSize: number;
  /**
   * How long the first event of a group may wait for company, in milliseconds. 0 waits only
   * until the requests that arrived together have been read (one turn of the event loop).
   */
  readonly maxWaitMs: number;
  /**
   * Groups rated at once. An engine with one writer (SQLite) gains nothing from a second group
   * queued behind the first: with 1, whatever arrives while a group commits gathers into the
   * next one, so a busy server writes fewer, larger transactions.
   */
  readonly maxInFlight: number;
  /**
   * Under load, how long at most a group may wait for company beyond maxWaitMs, in milliseconds.
   * A group that starts within one group's time of the last one ending waits up to half that
   * time, so requests still being read join it: with one writer, a 2,000-event group costs
   * two-thirds per event of a 500-event one, while a writer taking whatever one request brought
   * commits many small groups. An idle writer rates at once. 0 turns this off.
   */
  readonly busyWaitMs: number;
  /**
   * Under load, turns of the event loop given before each group is rated. Where rating holds the
   * loop (SQLite rates on it: about 100 ms for a 2,000-event group), a busy server otherwise
   * turns once per group, and Node accepts one waiting connection per turn (libuv takes one from
   * the listening socket each time it polls): 32 clients connecting at once waited up to 21 s
   * for the last to be let in. Each turn also reads the requests already waiting. An idle writer
   * rates at once. 0 turns this off.
   */
  readonly turnsBeforeGroup: number;
}

export const DEFAULT_BATCHER_OPTIONS: BatcherOptions = Object.freeze({
  maxGroupSize: 2_000,
  maxWaitMs: 0,
  maxInFlight: Number.POSITIVE_INFINITY,
  busyWaitMs: 0,
  turnsBeforeGroup: 0,
});

/**
 * For an engine with one writer (SQLite): one group at a time, and under load a wait of up to
 * 50 ms for company, a fraction of a full group's rating time, and eight turns of the loop
 * before each group, so up to eight new connections get in per group.
 */
export const SINGLE_WRITER_BATCHING: Partial<BatcherOptions> = Object.freeze({ maxInFlight: 1, busyWaitMs: 50, turnsBeforeGroup: 8 });

/**
 * For an engine whose writers lock the accounts they charge (PostgreSQL): two groups at a time.
 * A busy replica's groups charge mostly the same accounts, so a third group would only wait
 * inside the database for the second's locks, holding a pooled connection. With two, the next
 * group takes its locks as soon as the one before commits, and whatever arrives meanwhile
 * gathers into the group after it.
 */
export const ROW_LOCKING_BATCHING: Partial<BatcherOptions> = Object.freeze({ maxInFlight: 2 });

/** One caller's events, checked: committed in the same transaction, answered together. */
interface Pending {
  readonly items: readonly CheckedItem[];
  resolve(results: BatchItemResult[]): void;
  reject(error: unknown): void;
}

/**
 * Group commit for usage events. Callers that arrive together, single events (recordUsage) and
 * whole batches (recordUsageBatch) alike, are rated in one transaction with one durable commit
 * instead of one fsync each; a refused event fails alone. While a group commits, the next one
 * gathers. A caller is answered only after the commit that holds its events.
 */
export class UsageBatcher {
  private queue: Pending[] = [];
  private queuedEvents = 0;
  private scheduled: (() => void) | null = null;
  /** Groups being rated now: a shutdown waits for them before it closes the store. */
  private readonly inFlight = new Set<Promise<void>>();
  private readonly options: BatcherOptions;
  /** When the last group's rating ended and how long it took (performance.now() milliseconds). */
  private lastGroup = { endedAt: Number.NEGATIVE_INFINITY, tookMs: 0 };

  constructor(
    private readonly rating: RatingService,
    options: Partial<BatcherOptions> = {},
  ) {
    this.options = { ...DEFAULT_BATCHER_OPTIONS, ...options };
  }

  /** Rates one event; a refusal rejects with its FlexgateError. */
  async record(event: UsageEvent, field = "input"): Promise<RecordedUsage> {
    const [result] = await this.recordAll([{ event, field }]);
    if (result!.error) throw result!.error;
    return { charge: result!.charge, replayed: result!.replayed };
  }

  /**
   * Rates a caller's events in one transaction, each answered alone, in order. They are checked
   * (validated, fingerprinted) as they arrive, while an earlier group may still be rating.
   */
  recordAll(items: readonly GroupItem[]): Promise<BatchItemResult[]> {
    if (items.length === 0) return Promise.resolve([]);
    let checked: CheckedItem[];
    try {
      checked = this.rating.check(items);
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ items: checked, resolve, reject });
      this.queuedEvents += items.length;
      if (this.queuedEvents >= this.options.maxGroupSize) this.pump();
      else this.schedule();
    });
  }

  /**
   * Rates a batch whose items are read first (`read` makes each a UsageEvent): an item that
   * cannot be read (a malformed id, a repeated label) fails alone with its FlexgateError, as an
   * event that rating refuses does. `field` names the batch: its items are "field.0", "field.1"…
   */
  async recordBatch<T>(inputs: readonly T[], field: string, read: (input: T, field: string) => UsageEvent, eventIdOf: (input: T) => string): Promise<BatchItemResult[]> {
    const items: GroupItem[] = [];
    const unread = inputs.map((input, index): BatchItemResult | null => {
      const itemField = `${field}.${index}`;
      try {
        items.push({ event: read(input, itemField), field: itemField });
        return null;
      } catch (error) {
        if (error instanceof FlexgateError) return { eventId: eventIdOf(input), error };
        throw error;
      }
    });
    const recorded = await this.recordAll(items);
    let next = 0;
    return unread.map((result) => result ?? recorded[next++]!);
  }

  /** Starts a group of whatever is waiting now, if a lane is free; resolves when its callers have been answered. */
  flush(): Promise<void> {
    this.scheduled?.();
    this.scheduled = null;
    return this.pump() ?? Promise.resolve();
  }

  /** Commits what is waiting and waits for every group in flight: nothing is left to rate after it. */
  async drain(): Promise<void> {
    while (this.queue.length > 0 || this.inFlight.size > 0) {
      this.flush();
      await Promise.all(this.inFlight);
    }
  }

  /** Starts as many groups as there are free lanes; returns the last one started. */
  private pump(): Promise<void> | undefined {
    let started: Promise<void> | undefined;
    while (this.queue.length > 0 && this.inFlight.size < this.options.maxInFlight) {
      const group = this.takeGroup();
      const turns = this.busy() ? this.options.turnsBeforeGroup : 0;
      const startedAt = performance.now();
      const rated: Promise<void> = this.rate(group, turns, () => {
        this.inFlight.delete(rated);
        const endedAt = performance.now();
        this.lastGroup = { endedAt, tookMs: endedAt - startedAt };
        // What gathered meanwhile goes to the store before this group's callers are answered:
        // answering them (rendering their results) then overlaps the next group's rating.
        if (this.queuedEvents >= this.options.maxGroupSize || this.waitMs() === 0) this.pump();
        else if (this.queue.length > 0) this.schedule();
      });
      this.inFlight.add(rated);
      started = rated;
    }
    return started;
  }

  /** Callers from the head of the queue, whole, up to maxGroupSize events (at least one caller). */
  private takeGroup(): Pending[] {
    let events = 0;
    let count = 0;
    while (count < this.queue.length) {
      const size = this.queue[count]!.items.length;
      if (count > 0 && events + size > this.options.maxGroupSize) break;
      events += size;
      count++;
    }
    this.queuedEvents -= events;
    return this.queue.splice(0, count);
  }

  /** Rates a group after `turns` turns of the loop, calls `done` as soon as the store has answered, then answers the callers. */
  private async rate(group: readonly Pending[], turns: number, done: () => void): Promise<void> {
    let results: BatchItemResult[];
    try {
      // No await when there are no turns: an idle writer's group reaches the store in this turn.
      if (turns > 0) await yieldTurns(turns);
      results = await this.rating.rateChecked(group.length === 1 ? group[0]!.items : group.flatMap((pending) => pending.items));
    } catch (error) {
      done();
      // The transaction itself failed (not one event): nothing of the group was committed.
      for (const pending of group) pending.reject(error);
      return;
    }
    done();
    let next = 0;
    for (const pending of group) {
      pending.resolve(results.slice(next, next + pending.items.length));
      next += pending.items.length;
    }
  }

  /** Whether the writer is under load: the last group ended less than its own rating time ago. */
  private busy(): boolean {
    const { endedAt, tookMs } = this.lastGroup;
    return performance.now() - endedAt < tookMs;
  }

  /** How long a group starting now waits for company: see maxWaitMs and busyWaitMs. */
  private waitMs(): number {
    return this.options.maxWaitMs + (this.busy() ? Math.min(this.lastGroup.tookMs / 2, this.options.busyWaitMs) : 0);
  }

  private schedule(): void {
    if (this.scheduled) return;
    const run = () => {
      this.scheduled = null;
      this.pump();
    };
    const waitMs = this.waitMs();
    if (waitMs > 0) {
      const timer = setTimeout(run, waitMs);
      this.scheduled = () => clearTimeout(timer);
    } else {
      const immediate = setImmediate(run);
      this.scheduled = () => clearImmediate(immediate);
    }
  }
}
