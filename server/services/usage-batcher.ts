import type { GroupItem, RatingService, RecordedUsage, UsageEvent } from "./rating.service.js";

export interface BatcherOptions {
  /** A group is committed as soon as it holds this many events. */
  readonly maxGroupSize: number;
  /**
   * How long the first event of a group may wait for company, in milliseconds. 0 waits only
   * until the requests that arrived together have been read (one turn of the event loop).
   */
  readonly maxWaitMs: number;
}

export const DEFAULT_BATCHER_OPTIONS: BatcherOptions = Object.freeze({ maxGroupSize: 500, maxWaitMs: 0 });

interface Pending extends GroupItem {
  resolve(result: RecordedUsage): void;
  reject(error: unknown): void;
}

/**
 * Group commit for recordUsage. Requests that arrive together are rated in one transaction with
 * one durable commit instead of one fsync each; a refused event fails alone. While a group
 * commits, the next one gathers. A caller is answered only after the commit that holds its event.
 */
export class UsageBatcher {
  private queue: Pending[] = [];
  private scheduled: (() => void) | null = null;
  /** Groups being rated now: a shutdown waits for them before it closes the store. */
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly rating: RatingService,
    private readonly options: BatcherOptions = DEFAULT_BATCHER_OPTIONS,
  ) {}

  record(event: UsageEvent, field = "input"): Promise<RecordedUsage> {
    return new Promise((resolve, reject) => {
      this.queue.push({ event, field, resolve, reject });
      if (this.queue.length >= this.options.maxGroupSize) void this.flush();
      else this.schedule();
    });
  }

  /** Commits whatever is waiting now; resolves when its callers have been answered. */
  flush(): Promise<void> {
    this.scheduled?.();
    this.scheduled = null;
    const group = this.queue;
    this.queue = [];
    if (group.length === 0) return Promise.resolve();
    const rated = this.rate(group).finally(() => this.inFlight.delete(rated));
    this.inFlight.add(rated);
    return rated;
  }

  /** Commits what is waiting and waits for every group in flight: nothing is left to rate after it. */
  async drain(): Promise<void> {
    await this.flush();
    await Promise.all(this.inFlight);
  }

  private async rate(group: Pending[]): Promise<void> {
    let results;
    try {
      results = await this.rating.recordGroup(group);
    } catch (error) {
      // The transaction itself failed (not one event): nothing of the group was committed.
      for (const pending of group) pending.reject(error);
      return;
    }
    results.forEach((result, index) => {
      const pending = group[index]!;
      if (result.error) pending.reject(result.error);
      else pending.resolve({ charge: result.charge, replayed: result.replayed });
    });
  }

  private schedule(): void {
    if (this.scheduled) return;
    if (this.options.maxWaitMs > 0) {
      const timer = setTimeout(() => void this.flush(), this.options.maxWaitMs);
      this.scheduled = () => clearTimeout(timer);
    } else {
      const immediate = setImmediate(() => void this.flush());
      this.scheduled = () => clearImmediate(immediate);
    }
  }
}
