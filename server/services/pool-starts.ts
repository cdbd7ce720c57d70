import type { Instant } from "../core/time.js";
import { log } from "../log.js";
import type { StoreReads } from "../store/port.js";
import type { Clock } from "./context.js";

/**
 * The longest wait between passes. The process that imports a pool wakes at its start; another
 * replica sees it within this wait, as a backstop for a process that stopped meanwhile. It also
 * keeps a wait for a start months away within what a timer can hold (about 24 days).
 */
export const POOL_STARTS_MAX_WAIT_MS = 60 * 60_000;

/** A failed pass (the database out of reach a moment) is tried again this soon. */
const RETRY_MS = 10_000;
/** After a full page of accounts, the next pass comes this soon: between pages, requests go first. */
const NEXT_PAGE_MS = 10;

export interface PoolStartsOptions {
  /** Settles one page of accounts whose pools have started; answers whether a full page was settled. */
  readonly settle: () => Promise<boolean>;
  readonly reads: Pick<StoreReads, "nextPoolStartAfter">;
  readonly clock: Clock;
}

/**
 * Runs the settlement of started pools (FundingService.settleStartedPools) when a pool's term
 * starts: a pass at once, then a wait until the next start of any pool's term, or at most
 * POOL_STARTS_MAX_WAIT_MS; a pass settles a page of accounts, and a full page is followed by the
 * next at once. An import of a pool wakes it, so a term starting sooner than the wait
 * is not missed. Replicas each run their own: a pass settles under the account's lock, and a
 * second finds nothing left to settle.
 *
 * Nothing runs until `start`: a server starts it; the CLI and tests of the services alone do not.
 */
export class PoolStarts {
  private started = false;
  private timer: NodeJS.Timeout | undefined;
  private passes: Promise<void> = Promise.resolve();

  constructor(private readonly options: PoolStartsOptions) {}

  start(): void {
    this.started = true;
    this.wake();
  }

  /** A pass after the one running, if any: what it settles is due now, and the wait starts again from it. */
  wake(): void {
    if (!this.started) return;
    clearTimeout(this.timer);
    this.passes = this.passes.then(() => this.pass());
  }

  /** Waits for a pass in progress; none starts after. */
  async stop(): Promise<void> {
    this.started = false;
    clearTimeout(this.timer);
    await this.passes;
  }

  private async pass(): Promise<void> {
    if (!this.started) return;
    let wait = RETRY_MS;
    try {
      const fullPage = await this.options.settle();
      wait = fullPage ? NEXT_PAGE_MS : waitUntil(await this.options.reads.nextPoolStartAfter(this.options.clock()), this.options.clock());
    } catch (error) {
      log.error("settling the deficits of started Token Flex pools failed", { error: error instanceof Error ? error.message : String(error) });
    }
    if (!this.started) return;
    this.timer = setTimeout(() => this.wake(), wait);
    this.timer.unref();
  }
}

function waitUntil(next: Instant | null, now: Instant): number {
  return next === null ? POOL_STARTS_MAX_WAIT_MS : Math.min(POOL_STARTS_MAX_WAIT_MS, Math.max(0, next - now));
}
