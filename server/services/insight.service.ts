import { accountStatus } from "../core/account.js";
import { type BalanceAlert, balanceAlerts, boughtInLastYear } from "../core/alerts.js";
import { authorizeUsage, type UsageAuthorization } from "../core/authorization.js";
import { type Balance, balanceAt } from "../core/balance.js";
import type { FundingSource } from "../core/drain.js";
import { badInput, notFound } from "../core/errors.js";
import { type BalanceForecast, BURN_WINDOW_DAYS, expiringWithin, forecastBalance } from "../core/forecast.js";
import {
  assertWindow,
  balanceAsOf,
  summarizeUsage,
  USAGE_GROUPINGS,
  type UsageExportRow,
  type UsageGrouping,
  type UsageSummaryRow,
} from "../core/history.js";
import { MAXIMA } from "../core/maxima.js";
import type { Account, Instant } from "../core/model.js";
import { priceInForce, type PriceVersion } from "../core/price.js";
import { type AccountImpact, changePercent, impactDays, mostAffected, priceImpact, type PriceImpact, proposedBurnPerDay } from "../core/price-impact.js";
import { cleanApiCode, cleanReference } from "../core/text.js";
import { assertNotFuture, DAY_MS } from "../core/time.js";
import { findAccount } from "../store/accounts.store.js";
import { type Db, inTransaction } from "../store/database.js";
import { creditLotsOf, flexPacksOf, lotAsSource, packAsSource } from "../store/funding.store.js";
import { chargedSince, dailyUsage, exportRows, ledgerAsOf, usageGroupsSince } from "../store/insight.store.js";
import { priceVersionsOf } from "../store/prices.store.js";
import type { ServiceContext } from "./context.js";
import { type PricePublication, PriceService } from "./prices.service.js";

export type { AccountImpact, BalanceAlert, BalanceForecast, PriceImpact, UsageAuthorization, UsageExportRow, UsageGrouping, UsageSummaryRow };

/**
 * Balance history, usage reports, forecasts, alerts and price-change impact (shared domain
 * rules §7). Reads only: nothing here writes to the ledger. Reads that take several queries
 * run in one deferred transaction, so they see one snapshot of the ledger.
 */
export class InsightService {
  constructor(
    private readonly context: ServiceContext,
    private readonly prices: PriceService,
  ) {}

  /**
   * The balance as of `asOf`: lots and packs valid then, less allocations of usage that occurred
   * before it, plus reversals made before it, with settlements made before it (core/history.ts).
   * A date in the future is refused like every other date: a balance there is a forecast.
   * @throws FlexgateError NOT_FOUND (accountId), BAD_USER_INPUT (asOf more than 5 minutes ahead)
   */
  balanceAsOf(accountId: number, asOf: Instant): Balance {
    if (!Number.isSafeInteger(asOf) || asOf < 0) throw badInput("asOf", "asOf is not a valid instant");
    assertNotFuture(asOf, this.context.clock(), "asOf");
    return this.read((db) => {
      this.accountOrThrow(db, accountId);
      return balanceAsOf(ledgerAsOf(db, accountId, asOf), asOf);
    });
  }

  /**
   * Standing usage in [from, to) per UTC day or month and API code, optionally of one client.
   * Reversed charges are left out: a reversal means the usage is not billed, and a report that
   * still showed it would not add up to the balance. The window is bounded (core/maxima.ts), so
   * one report reads at most a year of daily rows or three years of monthly ones.
   * @throws FlexgateError NOT_FOUND (accountId), BAD_USER_INPUT (from, to, groupBy, clientId)
   */
  usageSummary(accountId: number, from: Instant, to: Instant, groupBy: UsageGrouping, clientId?: string | null): UsageSummaryRow[] {
    assertWindow(from, to);
    if (!USAGE_GROUPINGS.includes(groupBy)) throw badInput("groupBy", "groupBy must be DAY or MONTH");
    const maxDays = groupBy === "DAY" ? MAXIMA.summaryDaysByDay : MAXIMA.summaryDaysByMonth;
    if (to - from > maxDays * DAY_MS) throw badInput("to", `a ${groupBy} summary spans at most ${maxDays} days; ask for several shorter ones`);
    const client = clientId == null ? null : cleanReference(clientId, "clientId");
    return this.read((db) => {
      this.accountOrThrow(db, accountId);
      return summarizeUsage(dailyUsage(db, accountId, from, to, client), groupBy);
    });
  }

  /**
   * Burn rate over the last 30 days, when the balance runs out at it, and what will expire
   * (core/forecast.ts). "The last 30 days" are the charges whose usage occurred at or after
   * now − 30 days, including usage reported with a time a few minutes ahead.
   * @throws FlexgateError NOT_FOUND (accountId)
   */
  forecast(accountId: number): BalanceForecast {
    const now = this.context.clock();
    return this.read((db) => {
      const account = this.accountOrThrow(db, accountId);
      return forecastBalance({
        sources: this.sourcesOf(db, accountId),
        deficitMicros: account.deficitMicros,
        chargedInWindowMicros: chargedSince(db, accountId, now - BURN_WINDOW_DAYS * DAY_MS),
        now,
      });
    });
  }

  /**
   * The alerts that hold now (core/alerts.ts); they clear by themselves.
   * @throws FlexgateError NOT_FOUND (accountId)
   */
  alerts(accountId: number): BalanceAlert[] {
    const now = this.context.clock();
    return this.read((db) => {
      const account = this.accountOrThrow(db, accountId);
      const sources = this.sourcesOf(db, accountId);
      return balanceAlerts({
        balance: balanceAt(sources, account, now),
        status: accountStatus(account, now),
        boughtInLastYearMicros: boughtInLastYear(sources, now),
        expiring: expiringWithin(sources, now),
      });
    });
  }

  /**
   * May a premium call of `apiCode` start now (core/authorization.ts)? A refusal is an answer,
   * not an error; only a malformed API code or an unknown account is an error.
   * @throws FlexgateError NOT_FOUND (accountId), BAD_USER_INPUT (apiCode)
   */
  usageAuthorization(accountId: number, apiCode: string): UsageAuthorization {
    const code = cleanApiCode(apiCode, "apiCode");
    const now = this.context.clock();
    return this.read((db) => {
      const account = this.accountOrThrow(db, accountId);
      return authorizeUsage({
        apiCode: code,
        price: priceInForce(priceVersionsOf(db, code), now),
        status: accountStatus(account, now),
        policy: account.balancePolicy,
        balance: balanceAt(this.sourcesOf(db, accountId), account, now),
      });
    });
  }

  /**
   * What the standing charges of `input.apiCode` (all accounts) whose usage occurred in the last
   * `days` days (default 30) would have cost at the proposed price, against what they were
   * charged. The proposal is checked as publishPrice would check it, except that its
   * effectiveFrom is not checked: a preview of a change already decided for yesterday is still
   * useful. Per account (the most affected first, at most MAXIMA.impactAccounts): the same figures,
   * and when its balance runs out at the observed burn rate (forecast) against the burn rate
   * with this API's change, from the effective date (now when none or past) on.
   * @throws FlexgateError BAD_USER_INPUT (days, input.*)
   */
  previewPriceChange(input: PricePublication, days?: number | null): PriceImpact {
    const window = impactDays(days);
    const checked = this.prices.validate({ ...input, effectiveFrom: null }, "input");
    const now = this.context.clock();
    const proposed: PriceVersion = {
      ...checked,
      id: 0,
      retired: false,
      cancelledAt: null,
      publishedBy: "",
      publishedAt: now,
    };
    const changeAt = Math.max(now, input.effectiveFrom ?? now);
    return this.read((db) => {
      const { byAccount, ...totals } = priceImpact(usageGroupsSince(db, checked.apiCode, now - window * DAY_MS), proposed, window);
      const accounts = mostAffected(byAccount).map((usage): AccountImpact => {
        const account = this.accountOrThrow(db, usage.accountId);
        const projection = {
          sources: this.sourcesOf(db, account.id),
          deficitMicros: account.deficitMicros,
          chargedInWindowMicros: chargedSince(db, account.id, now - BURN_WINDOW_DAYS * DAY_MS),
          now,
        };
        const observed = forecastBalance(projection);
        const ratePerDayMicros = proposedBurnPerDay(observed.burnRatePerDayMicros, usage, window);
        return {
          ...usage,
          deltaTokensMicros: usage.proposedTokensMicros - usage.currentTokensMicros,
          changePercent: changePercent(usage.currentTokensMicros, usage.proposedTokensMicros),
          depletesAt: observed.depletesAt,
          proposedDepletesAt: forecastBalance({ ...projection, rateFrom: { at: changeAt, ratePerDayMicros } }).depletesAt,
        };
      });
      return { ...totals, accounts };
    });
  }

  /**
   * One row per standing charge of the account in [from, to), oldest first, with what paid it.
   * Reversed charges are left out, as in usageSummary, so the export adds up to the summary.
   * Checked at the call, not at the first row, so a refusal reaches the caller before any
   * output starts. Rows are read in pages (store/insight.store.ts), so a year of usage never
   * sits in memory and the connection is never held between rows.
   * @throws FlexgateError NOT_FOUND (accountId), BAD_USER_INPUT (from, to)
   */
  exportUsage(accountId: number, from: Instant, to: Instant): IterableIterator<UsageExportRow> {
    assertWindow(from, to);
    this.accountOrThrow(this.context.db, accountId);
    return exportRows(this.context.db, accountId, from, to);
  }

  private read<T>(work: (db: Db) => T): T {
    // The insight store reads through the connection itself; inside this transaction it sees the
    // same snapshot as every other statement of the read.
    return inTransaction(this.context.db, "deferred", () => work(this.context.db));
  }

  private sourcesOf(db: Db, accountId: number): FundingSource[] {
    return [...creditLotsOf(db, [accountId]).map(lotAsSource), ...flexPacksOf(db, [accountId]).map(packAsSource)];
  }

  private accountOrThrow(db: Db, id: number): Account {
    const account = findAccount(db, id);
    if (!account) throw notFound("account", "accountId");
    return account;
  }
}
