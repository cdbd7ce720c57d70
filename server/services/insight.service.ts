import { type BalanceAlert, balanceAlerts, boughtInLastYear } from "../core/alerts.js";
import { authorizeTieredUsage, authorizeUsage, type TieredAuthorization, type UsageAuthorization } from "../core/authorization.js";
import { type Balance, balanceAt } from "../core/balance.js";
import { badInput } from "../core/errors.js";
import { type BalanceForecast, expiringWithin } from "../core/forecast.js";
import { capAt, EMPTY_FREE_MONTH, freeUsageRows } from "../core/free-allowance.js";
import { monthOf } from "../core/month.js";
import { balanceUnderPlan, type Plan, statusUnderPlan } from "../core/plan.js";
import { assertWindow, USAGE_GROUPINGS, type UsageExportRow, type UsageGrouping, type UsageSummaryRow } from "../core/history.js";
import { MAXIMA } from "../core/maxima.js";
import type { Instant } from "../core/model.js";
import { priceInForce, type PriceVersion } from "../core/price.js";
import { type AccountImpact, impactDays, type PriceImpact } from "../core/price-impact.js";
import { cleanApiCode, cleanReference } from "../core/text.js";
import { assertNotFuture, DAY_MS } from "../core/time.js";
import type { ExportCursor, ExportPage, StoreReads } from "../store/port.js";
import { accountOrThrow, type ServiceContext } from "./context.js";
import { fundsOf, planOf } from "./plan-reads.js";
import { type PricePublication, PriceService } from "./prices.service.js";
import { REPORTS } from "./reports.js";

export type { AccountImpact, BalanceAlert, BalanceForecast, PriceImpact, UsageAuthorization, UsageExportRow, UsageGrouping, UsageSummaryRow };

/**
 * usageAuthorization's answer: allowed, status and reason as api.md names them, with the plan in
 * force now and, for a refusal, the error code rating would give (API_SUSPENDED,
 * ACCOUNT_RESTRICTED, INSUFFICIENT_BALANCE, PRICE_NOT_FOUND), so a caller can act on it.
 */
export interface PlanAuthorization extends UsageAuthorization {
  readonly plan: Plan;
  readonly code: TieredAuthorization["code"] | "INSUFFICIENT_BALANCE" | null;
}

/**
 * Balance history, usage reports, forecasts, alerts and price-change impact (shared domain
 * rules §7). Reads only: nothing here writes to the ledger. Reads that take several queries
 * run in one snapshot of the ledger.
 */
export class InsightService {
  constructor(
    private readonly context: ServiceContext,
    private readonly prices: PriceService,
  ) {}

  /**
   * The balance as of `asOf`: lots, Token Flex pools and packs valid then (pools count among the
   * flex tokens), less allocations of usage that occurred before it, plus reversals made before
   * it, with settlements made before it (core/history.ts); under the plan in force then, which
   * shows no grace end on a tiered plan. A date in the future is refused like every other date:
   * a balance there is a forecast.
   * @throws FlexgateError NOT_FOUND (accountId), BAD_USER_INPUT (asOf more than 5 minutes ahead)
   */
  async balanceAsOf(accountId: number, asOf: Instant): Promise<Balance> {
    if (!Number.isSafeInteger(asOf) || asOf < 0) throw badInput("asOf", "asOf is not a valid instant");
    assertNotFuture(asOf, this.context.clock(), "asOf");
    return this.context.store.report(REPORTS.balanceAsOf, accountId, asOf, this.context.rules.creditAcceptanceEndAt);
  }

  /**
   * Standing usage in [from, to) per UTC day or month and API code, optionally of one client.
   * Reversed charges are left out: a reversal means the usage is not billed, and a report that
   * still showed it would not add up to the balance. The window is bounded (core/maxima.ts), so
   * one report reads at most a year of daily rows or three years of monthly ones.
   * @throws FlexgateError NOT_FOUND (accountId), BAD_USER_INPUT (from, to, groupBy, clientId)
   */
  async usageSummary(accountId: number, from: Instant, to: Instant, groupBy: UsageGrouping, clientId?: string | null): Promise<UsageSummaryRow[]> {
    assertWindow(from, to);
    if (!USAGE_GROUPINGS.includes(groupBy)) throw badInput("groupBy", "groupBy must be DAY or MONTH");
    const maxDays = groupBy === "DAY" ? MAXIMA.summaryDaysByDay : MAXIMA.summaryDaysByMonth;
    if (to - from > maxDays * DAY_MS) throw badInput("to", `a ${groupBy} summary spans at most ${maxDays} days; ask for several shorter ones`);
    const client = clientId == null ? null : cleanReference(clientId, "clientId");
    return this.context.store.report(REPORTS.usageSummary, accountId, from, to, groupBy, client);
  }

  /**
   * Burn rate over the last 30 days, when the balance runs out at it, and what will expire
   * (core/forecast.ts), under the plan in force now: with PAYG the balance is unlimited and never
   * runs out; Token Flex pools are funds like packs. "The last 30 days" are the charges whose
   * usage occurred at or after now − 30 days, including usage reported with a time a few minutes
   * ahead.
   * @throws FlexgateError NOT_FOUND (accountId)
   */
  async forecast(accountId: number): Promise<BalanceForecast> {
    return this.context.store.report(REPORTS.forecast, accountId, this.context.clock(), this.context.rules.creditAcceptanceEndAt);
  }

  /**
   * The alerts that hold now (core/alerts.ts), under the plan in force now; they clear by
   * themselves. A FREE account also hears of its APIs near their monthly cap (FREE_CAP_NEAR)
   * and of those suspended (API_SUSPENDED).
   * @throws FlexgateError NOT_FOUND (accountId)
   */
  async alerts(accountId: number): Promise<BalanceAlert[]> {
    const now = this.context.clock();
    const { creditAcceptanceEndAt } = this.context.rules;
    return this.context.store.snapshot(async (reads) => {
      const account = await accountOrThrow(reads, accountId, "accountId");
      const sources = await fundsOf(reads, accountId);
      const plan = await planOf(reads, accountId, now);
      const month = monthOf(now);
      return balanceAlerts({
        balance: balanceUnderPlan(plan, balanceAt(sources, account, now, creditAcceptanceEndAt)),
        status: statusUnderPlan(plan, account, now),
        boughtInLastYearMicros: boughtInLastYear(sources, now),
        expiring: expiringWithin(sources, now, creditAcceptanceEndAt),
        plan,
        freeUsage: plan.tier === "FREE" ? { rows: freeUsageRows(month, await reads.freeMonthsOf(accountId, month), await reads.freeCaps(), now), now } : undefined,
      });
    });
  }

  /**
   * May a premium call of `apiCode` start now (core/authorization.ts), under the plan in force
   * now? A refusal is an answer, not an error; only a malformed API code or an unknown account is
   * an error. FREE: refused while the API is suspended (API_SUSPENDED). PAID prepay only: refused
   * while the account owes (ACCOUNT_RESTRICTED, no grace). PAID with PAYG: always allowed.
   * LEGACY: the grace and HARD_STOP rules as before.
   * @throws FlexgateError NOT_FOUND (accountId), BAD_USER_INPUT (apiCode)
   */
  async usageAuthorization(accountId: number, apiCode: string): Promise<PlanAuthorization> {
    const code = cleanApiCode(apiCode, "apiCode");
    const now = this.context.clock();
    return this.context.store.snapshot(async (reads) => {
      const account = await accountOrThrow(reads, accountId, "accountId");
      const plan = await planOf(reads, accountId, now);
      const price = priceInForce(await reads.priceVersionsOf(code), now);
      if (plan.tier === "LEGACY") {
        const status = statusUnderPlan(plan, account, now);
        const balance = balanceAt(await fundsOf(reads, accountId), account, now, this.context.rules.creditAcceptanceEndAt);
        const answer = authorizeUsage({ apiCode: code, price, status, policy: account.balancePolicy, balance });
        const refusal = price === null ? "PRICE_NOT_FOUND" : status === "RESTRICTED" ? "ACCOUNT_RESTRICTED" : "INSUFFICIENT_BALANCE";
        return { ...answer, plan, code: answer.allowed ? null : refusal };
      }
      const freeMonth = plan.tier === "FREE" ? ((await reads.freeMonthsOf(accountId, monthOf(now))).get(code) ?? EMPTY_FREE_MONTH) : EMPTY_FREE_MONTH;
      const capUnits = plan.tier === "FREE" ? capAt(await reads.freeCaps(), code, now) : 0n;
      return { ...authorizeTieredUsage({ apiCode: code, price, plan, deficit: account, freeMonth, capUnits, now }), plan };
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
  async previewPriceChange(input: PricePublication, days?: number | null): Promise<PriceImpact> {
    const window = impactDays(days);
    const checked = await this.prices.validate({ ...input, effectiveFrom: null }, "input");
    const now = this.context.clock();
    const proposed: PriceVersion = {
      ...checked,
      effectiveFrom: now,
      id: 0,
      retired: false,
      cancelledAt: null,
      publishedBy: "",
      publishedAt: now,
    };
    return this.context.store.report(REPORTS.priceImpact, proposed, window, now, Math.max(now, input.effectiveFrom ?? now), this.context.rules.creditAcceptanceEndAt);
  }

  /**
   * One row per standing charge of the account in [from, to), oldest first, with what paid it.
   * Reversed charges are left out, as in usageSummary, so the export adds up to the summary.
   * Checked at the call, not at the first row, so a refusal reaches the caller before any
   * output starts. Rows are read in pages of EXPORT_PAGE_SIZE, so a year of usage never sits in
   * memory and the connection is never held between pages.
   * @throws FlexgateError NOT_FOUND (accountId), BAD_USER_INPUT (from, to)
   */
  async exportUsage(accountId: number, from: Instant, to: Instant): Promise<AsyncIterableIterator<UsageExportRow>> {
    assertWindow(from, to);
    await accountOrThrow(this.context.store.reads, accountId, "accountId");
    return exportRows(this.context.store.reads, accountId, from, to);
  }
}

export const EXPORT_PAGE_SIZE = 1000;

async function* exportRows(reads: StoreReads, accountId: number, from: Instant, to: Instant): AsyncGenerator<UsageExportRow, void, undefined> {
  let after: ExportCursor | null = null;
  for (;;) {
    const page: ExportPage = await reads.exportPage(accountId, from, to, after, EXPORT_PAGE_SIZE);
    yield* page.rows;
    if (!page.next) return;
    after = page.next;
  }
}
