import type { Instant } from "../core/time.js";
import { log } from "../log.js";
import type { StoreReads } from "../store/port.js";
import type { Clock } from "./context.js";

/**
 * The longest wait between passes. The process that imports a pool wakes at its start; the other
 * replicas (and a process restarted since) learn of it only from the store, so this wait bounds
 * how late one of them brings it in, should the importer be gone. A pass that finds nothing is
 * two reads of the pools table, which operators fill a pool at a time. It also keeps a wait for
 * a start months away within what a timer can hold (about 24 days).
 */
export const POOL_STARTS_MAX_WAIT_MS = 60_000;

/** A failed pass (the database out of reach a moment) is tried again this soon. */
const RETRY_MS = 10_000;
/** After a full page of accounts, the next pass comes this soon: between pages, requests go first. */
const NEXT_PAGE_MS = 10;
/** The shortest wait for a start: it comes at most this late. */
const MIN_WAIT_MS = 100;

export interface PoolStartsOptions {
  /** Brings in one page of accounts' pools started by `now`; answers whether the page was full. */
  readonly settle: (now: Instant) => Promise<boolean>;
  readonly reads: Pick<StoreReads, "nextPoolStartAfter">;
  readonly clock: Clock;
}

/**
 * Runs FundingService.settleStartedPools when a pool's term starts: a pass at once, then a wait
 * until the next start of a pool not yet come in, or at most POOL_STARTS_MAX_WAIT_MS. A pass
 * takes up a page of accounts, and a full page is followed by the next at once. Importing a pool
 * that starts later wakes it, so a term starting sooner than the wait is not missed. Replicas
 * each run their own: a pool comes in under its account's lock and is marked so, and another
 * replica's pass finds nothing left to do. A timer is the whole schedule: the next start is one
 * instant, read from the store, with nothing recurring to express.
 *
 * Nothing runs until `start`: a server starts it; the CLI and tests of the services alone do not.
 */
export class PoolStarts {
  private started = false;
  private timer: NodeJS.Timeout | undefined;
  private passes: Promise<void> = Promise.resolve();
  /** A pass is queued and has not begun: another wake has nothing to add. */
  private queued = false;

  constructor(private readonly options: PoolStartsOptions) {}

  start(): void {
    this.started = true;
    this.wake();
  }

  /** A pass after the one running, if any: what it settles is due now, and the wait starts again from it. */
  wake(): void {
    if (!this.started || this.queued) return;
    clearTimeout(this.timer);
    this.queued = true;
    this.passes = this.passes.then(() => {
      this.queued = false;
      return this.pass();
    });
  }

  /** Waits for a pass in progress; none starts after. */
  async stop(): Promise<void> {
    this.started = false;
    clearTimeout(this.timer);
    await this.passes;
  }

  private async pass(): Promise<void> {
    if (!this.started) return;
    // One instant for the whole pass: a start after the page was read is the next one waited for.
    const now = this.options.clock();
    let wait = RETRY_MS;
    try {
      const fullPage = await this.options.settle(now);
      wait = fullPage ? NEXT_PAGE_MS : waitUntil(await this.options.reads.nextPoolStartAfter(now), this.options.clock());
    } catch (error) {
      log.error("settling the deficits of started Token Flex pools failed", { error: error instanceof Error ? error.message : String(error) });
    }
    if (!this.started || this.queued) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.wake(), wait);
    this.timer.unref();
  }
}

/** Until `next`, at least MIN_WAIT_MS (a clock held still must not spin the passes), at most the longest wait. */
function waitUntil(next: Instant | null, now: Instant): number {
  return next === null ? POOL_STARTS_MAX_WAIT_MS : Math.min(POOL_STARTS_MAX_WAIT_MS, Math.max(MIN_WAIT_MS, next - now));
}
