/**
 * The heavy reports: each is the whole work of one read-only snapshot, from the ledger rows it
 * reads to the answer it gives, so that a store can run it on another thread (SQLite's read pool
 * finds it here by its name) and hand back only the answer. Arguments and answers are plain
 * values: they cross threads by structured clone.
 */
import type { Balance } from "../core/balance.js";
import { type BalanceForecast, BURN_WINDOW_DAYS, forecastUnderPlan } from "../core/forecast.js";
import { balanceAsOf, summarizeUsage, type UsageGrouping, type UsageSummaryRow } from "../core/history.js";
import type { Instant } from "../core/model.js";
import type { PriceVersion } from "../core/price.js";
import { type AccountImpact, changePercent, mostAffected, priceImpact, type PriceImpact, proposedBurnPerDay } from "../core/price-impact.js";
import { balanceUnderPlan } from "../core/plan.js";
import { DAY_MS } from "../core/time.js";
import type { Report, StoreReads } from "../store/port.js";
import { accountOrThrow } from "./context.js";
import { fundsOf, planOf } from "./plan-reads.js";

type Run = (reads: StoreReads, ...args: never[]) => Promise<unknown>;
type Named<T extends Record<string, Run>> = { readonly [K in keyof T]: T[K] extends (reads: StoreReads, ...args: infer A) => Promise<infer R> ? Report<A, R> : never };

/** Each report under its key as its name. */
const named = <T extends Record<string, Run>>(runs: T): Named<T> =>
  Object.fromEntries(Object.entries(runs).map(([name, run]) => [name, { name, run }])) as Named<T>;

/** The account's balance projected at its burn rate, as the plan in force now counts it. */
async function projected(reads: StoreReads, accountId: number, now: Instant, creditAcceptanceEndAt: Instant) {
  const account = await accountOrThrow(reads, accountId, "accountId");
  const plan = await planOf(reads, accountId, now);
  const projection = {
    sources: await fundsOf(reads, accountId),
    deficitMicros: account.deficitMicros,
    chargedInWindowMicros: await reads.chargedSince(accountId, now - BURN_WINDOW_DAYS * DAY_MS),
    now,
    creditAcceptanceEndAt,
  };
  return { plan, projection, observed: forecastUnderPlan(plan, projection) };
}

/**
 * Every report, by name: what a read thread can run. Those that count lots take the configured
 * credit acceptance end (BillingRules) as an argument, since a read thread has no services.
 */
export const REPORTS = named({
  /** The balance as of `asOf`, under the plan in force then (InsightService.balanceAsOf). */
  async balanceAsOf(reads: StoreReads, accountId: number, asOf: Instant, creditAcceptanceEndAt: Instant): Promise<Balance> {
    await accountOrThrow(reads, accountId, "accountId");
    return balanceUnderPlan(await planOf(reads, accountId, asOf), balanceAsOf(await reads.ledgerAsOf(accountId, asOf), asOf, creditAcceptanceEndAt));
  },

  /** Standing usage in [from, to) per day or month and API (InsightService.usageSummary). */
  async usageSummary(reads: StoreReads, accountId: number, from: Instant, to: Instant, groupBy: UsageGrouping, clientId: string | null): Promise<UsageSummaryRow[]> {
    await accountOrThrow(reads, accountId, "accountId");
    return summarizeUsage(await reads.dailyUsage(accountId, from, to, clientId), groupBy);
  },

  /** Burn rate, when the balance runs out, what will expire (InsightService.forecast). */
  async forecast(reads: StoreReads, accountId: number, now: Instant, creditAcceptanceEndAt: Instant): Promise<BalanceForecast> {
    return (await projected(reads, accountId, now, creditAcceptanceEndAt)).observed;
  },

  /**
   * What the standing charges of the proposal's API in the last `window` days would have cost at
   * it, and for the accounts most affected, when their balance runs out now and with the change
   * from `changeAt` on (InsightService.previewPriceChange).
   */
  async priceImpact(
    reads: StoreReads,
    proposed: PriceVersion,
    window: number,
    now: Instant,
    changeAt: Instant,
    creditAcceptanceEndAt: Instant,
  ): Promise<PriceImpact> {
    const { byAccount, ...totals } = priceImpact(await reads.usageGroupsSince(proposed.apiCode, now - window * DAY_MS), proposed, window);
    const accounts: AccountImpact[] = [];
    for (const usage of mostAffected(byAccount)) {
      const { plan, projection, observed } = await projected(reads, usage.accountId, now, creditAcceptanceEndAt);
      const ratePerDayMicros = proposedBurnPerDay(observed.burnRatePerDayMicros, usage, window);
      accounts.push({
        ...usage,
        deltaTokensMicros: usage.proposedTokensMicros - usage.currentTokensMicros,
        changePercent: changePercent(usage.currentTokensMicros, usage.proposedTokensMicros),
        depletesAt: observed.depletesAt,
        proposedDepletesAt: forecastUnderPlan(plan, { ...projection, rateFrom: { at: changeAt, ratePerDayMicros } }).depletesAt,
      });
    }
    return { ...totals, accounts };
  },
});
