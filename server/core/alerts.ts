/**
 * Balance alerts (shared domain rules §7: APS alerts on tokens expiring in the next 90 days) and
 * the rules that raise them.
 */
import type { AccountStatus } from "./account.js";
import type { Balance } from "./balance.js";
import type { FundingSource } from "./drain.js";
import type { Expiring } from "./forecast.js";
import type { FreeUsageRow } from "./free-allowance.js";
import { nextMonthStart } from "./month.js";
import { formatMicros } from "./money.js";
import { LEGACY_PLAN, type Plan } from "./plan.js";
import { formatInstant, type Instant, isValidAt } from "./time.js";

export type AlertKind = "LOW_BALANCE" | "EXPIRING_SOON" | "DEFICIT" | "RESTRICTED" | "FREE_CAP_NEAR" | "API_SUSPENDED";

export interface BalanceAlert {
  readonly kind: AlertKind;
  readonly message: string;
  readonly tokensMicros: bigint | null;
  readonly at: Instant | null;
}

/** LOW_BALANCE fires when available is under this share (percent) of the tokens bought in 12 months. */
export const LOW_BALANCE_PERCENT = 20n;

/**
 * Tokens bought in the last 12 months. A lot or pack lives exactly one calendar year from its
 * purchase (addOneYear), so "bought in the last 12 months" is the same set as "not expired
 * yet": counting the sizes of those keeps the two rules from ever disagreeing by a leap day.
 */
export function boughtInLastYear(sources: readonly FundingSource[], now: Instant): bigint {
  let total = 0n;
  for (const source of sources) if (isValidAt(source, now)) total += source.sizeMicros;
  return total;
}

export interface AlertFacts {
  readonly balance: Balance;
  readonly status: AccountStatus;
  readonly boughtInLastYearMicros: bigint;
  /** Tokens of lots and packs valid now expiring within 90 days, and the soonest expiry. */
  readonly expiring: Expiring;
  /** The plan in force now; LEGACY when left out. */
  readonly plan?: Plan;
  /** A FREE account's freeUsageRows of the current month, and now; left out on other plans. */
  readonly freeUsage?: { readonly rows: readonly FreeUsageRow[]; readonly now: Instant };
}

/**
 * The alerts that hold now, most severe first (RESTRICTED, DEFICIT, API_SUSPENDED, LOW_BALANCE,
 * FREE_CAP_NEAR, EXPIRING_SOON), so a console can show the first one as the headline. Each
 * account-wide kind appears at most once; API_SUSPENDED or FREE_CAP_NEAR (never both) at most
 * once per API with FREE usage this month (MAXIMA.alertsPerAccount). An alert
 * clears by itself as soon as its condition no longer holds: nothing is stored or acknowledged.
 * Under a tiered plan there is no grace period (domain §8), so no grace end is named.
 */
export function balanceAlerts(facts: AlertFacts): BalanceAlert[] {
  const { balance, status, boughtInLastYearMicros, expiring } = facts;
  const plan = facts.plan ?? LEGACY_PLAN;
  const free = facts.freeUsage ? freeTierAlerts(facts.freeUsage.rows, facts.freeUsage.now) : [];
  const alerts: BalanceAlert[] = [];
  if (status === "RESTRICTED" && plan.tier === "LEGACY") {
    // The grace end is when the restriction began; the deficit is what lifts it once paid.
    alerts.push({
      kind: "RESTRICTED",
      message:
        `premium usage is refused since ${formatInstant(balance.graceEndsAt!)}: ` +
        `pay the deficit of ${formatMicros(balance.deficitMicros)} tokens to lift the restriction; free APIs still work`,
      tokensMicros: balance.deficitMicros,
      at: balance.graceEndsAt,
    });
  } else if (status === "RESTRICTED") {
    alerts.push({
      kind: "RESTRICTED",
      message:
        `premium usage is refused while the account owes ${formatMicros(balance.deficitMicros)} tokens: the tiered plans have no grace period; ` +
        "buy Flex tokens (they settle the deficit first) or enroll in PAYG to lift the restriction; free APIs still work",
      tokensMicros: balance.deficitMicros,
      at: null,
    });
  }
  if (balance.deficitMicros > 0n) {
    alerts.push({
      kind: "DEFICIT",
      message:
        `the account owes ${formatMicros(balance.deficitMicros)} tokens` +
        (balance.graceEndsAt === null ? "" : `; its grace period ends at ${formatInstant(balance.graceEndsAt)}`),
      tokensMicros: balance.deficitMicros,
      at: balance.graceEndsAt,
    });
  }
  alerts.push(...free.filter((alert) => alert.kind === "API_SUSPENDED"));
  // available < 20% of bought, in exact integers. With nothing bought in 12 months the
  // threshold is zero, so only a negative balance is low (and DEFICIT already says why). Under
  // PAYG nothing is ever refused (usage beyond the tokens held is billed in arrears): a low
  // balance is no warning there.
  if (!plan.payg && balance.availableMicros * 100n < boughtInLastYearMicros * LOW_BALANCE_PERCENT) {
    alerts.push({
      kind: "LOW_BALANCE",
      message:
        `${formatMicros(balance.availableMicros)} tokens available, under ${LOW_BALANCE_PERCENT}% of the ` +
        `${formatMicros(boughtInLastYearMicros)} tokens bought in the last 12 months`,
      tokensMicros: balance.availableMicros,
      at: null,
    });
  }
  alerts.push(...free.filter((alert) => alert.kind === "FREE_CAP_NEAR"));
  if (expiring.tokensMicros > 0n) {
    alerts.push({
      kind: "EXPIRING_SOON",
      message:
        `${formatMicros(expiring.tokensMicros)} tokens expire within 90 days, the first at ${formatInstant(expiring.soonest!)}`,
      tokensMicros: expiring.tokensMicros,
      at: expiring.soonest,
    });
  }
  return alerts;
}

/** FREE_CAP_NEAR fires once this share (percent) of an API's monthly free cap is used (domain §8). */
export const FREE_CAP_NEAR_PERCENT = 80n;

/**
 * The Free tier's alerts for the current month's freeUsageRows of a FREE account, suspended
 * APIs first. A suspended API does not also say its cap is near: the suspension says more.
 * Neither carries tokens; `at` is when the suspension lifts or the allowance refreshes (the
 * first instant of the next month, UTC).
 */
export function freeTierAlerts(rows: readonly FreeUsageRow[], now: Instant): BalanceAlert[] {
  const refreshesAt = nextMonthStart(now);
  const suspended: BalanceAlert[] = [];
  const near: BalanceAlert[] = [];
  for (const row of rows) {
    if (row.suspendedUntil !== null) {
      suspended.push({
        kind: "API_SUSPENDED",
        message:
          `${row.apiCode} is suspended until ${formatInstant(row.suspendedUntil)}: the month's free cap of ${row.capUnits} units is used; ` +
          "enroll in a paid tier to lift it",
        tokensMicros: null,
        at: row.suspendedUntil,
      });
    } else if (row.capUnits > 0n && row.usedUnits * 100n >= row.capUnits * FREE_CAP_NEAR_PERCENT) {
      near.push({
        kind: "FREE_CAP_NEAR",
        message:
          `${row.apiCode} has used ${row.usedUnits} of its ${row.capUnits} free units this month; ` +
          `at the cap it is suspended until ${formatInstant(refreshesAt)}, when the allowance refreshes, unless the account enrolls in a paid tier`,
        tokensMicros: null,
        at: refreshesAt,
      });
    }
  }
  return [...suspended, ...near];
}
