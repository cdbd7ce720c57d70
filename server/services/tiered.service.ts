/**
 * The tiered regime (domain §8) as operators and partners see it: plans and their history,
 * effective-dated free caps, an account's free usage, its remainders and its PAYG statements.
 * Rating under the plans is the store's (store/rate-group.ts); Token Flex pools are funding
 * (FundingService).
 */
import { badInput, FlexgateError } from "../core/errors.js";
import { capsInForce, checkFreeCapOrThrow, type FreeCap, type FreeUsageRow, freeUsageRows } from "../core/free-allowance.js";
import { MAXIMA } from "../core/maxima.js";
import type { Account, AccountStatus, Actor } from "../core/model.js";
import { type Month, monthOf, parseMonth } from "../core/month.js";
import { paygStatement, type PaygStatement } from "../core/payg.js";
import { decideEnrollmentOrThrow, type Enrollment, type Plan, planAt, planHistory, type PlanTier, statusUnderPlan } from "../core/plan.js";
import { meterSince } from "../core/charged-units.js";
import { priceInForce } from "../core/price.js";
import { cleanApiCode, cleanText } from "../core/text.js";
import type { Instant } from "../core/time.js";
import { accountOrThrow, type ServiceContext } from "./context.js";
import { startOfChange } from "./prices.service.js";

export interface PlanEnrollment {
  readonly accountId: number;
  readonly tier: PlanTier;
  /** Omitted means no PAYG. */
  readonly payg?: boolean | null;
  /** Omitted means now. */
  readonly effectiveFrom?: Instant | null;
}

export interface FreeCapPublication {
  readonly apiCode: string;
  readonly unitsPerMonth: number;
  /** Omitted means now; never in the past. */
  readonly effectiveFrom?: Instant | null;
  readonly note: string;
}

/** A partial unit not yet charged (api.md UnitRemainder). */
export interface UnitRemainderView {
  readonly apiCode: string;
  /** Meter units (micro quantity). */
  readonly quantityMicros: bigint;
  /** The FREE month it belongs to; null for a paid remainder, which carries on. */
  readonly month: Month | null;
}

export class TieredService {
  constructor(private readonly context: ServiceContext) {}

  /**
   * Enrolls an account in FREE or PAID (with or without PAYG) from `effectiveFrom` (default now).
   * A refusal writes nothing.
   * @throws FlexgateError NOT_FOUND `input.accountId`; BAD_USER_INPUT and PAYG_NOT_AVAILABLE as
   *   decideEnrollmentOrThrow says.
   */
  async enrollPlan(input: PlanEnrollment, actor: Actor, field = "input"): Promise<Account> {
    return this.context.store.write({ accounts: [input.accountId] }, async (tx) => {
      const account = await accountOrThrow(tx, input.accountId, `${field}.accountId`);
      const now = this.context.clock();
      const enrollments = (await tx.enrollmentsOf([account.id])).get(account.id) ?? [];
      // A bounded history keeps `planHistory` a bounded list (core/maxima.ts).
      if (enrollments.length >= MAXIMA.enrollmentsPerAccount) {
        throw badInput(`${field}.accountId`, `the account already has ${MAXIMA.enrollmentsPerAccount} plan enrollments, the most one account may have`);
      }
      const enrollment = decideEnrollmentOrThrow(
        { tier: input.tier, payg: input.payg, effectiveFrom: input.effectiveFrom },
        {
          country: account.country,
          enrollments,
          latestChargeOccurredAt: await tx.latestChargeOccurredAt(account.id),
          paygCountries: this.context.rules.paygCountries,
          now,
        },
      );
      await tx.insertEnrollment({ ...enrollment, accountId: account.id, enrolledBy: actor.name, enrolledAt: now });
      await tx.appendAudit(
        actor,
        { action: "plan.enroll", entityType: "Account", entityId: account.id, before: planAt(enrollments, enrollment.effectiveFrom), after: enrollment },
        now,
      );
      return account;
    });
  }

  /** The plan in force at `at` (default now) for each account, by id. */
  async plans(accountIds: readonly number[], at?: Instant | null): Promise<Map<number, Plan>> {
    const when = at ?? this.context.clock();
    const enrollments = await this.context.store.reads.enrollmentsOf(accountIds);
    return new Map(accountIds.map((id) => [id, planAt(enrollments.get(id) ?? [], when)]));
  }

  async plan(accountId: number, at?: Instant | null): Promise<Plan> {
    return (await this.plans([accountId], at)).get(accountId)!;
  }

  /** Every plan the account has had, oldest first: LEGACY, then each enrollment. */
  async planHistory(accountId: number): Promise<Plan[]> {
    return planHistory(await this.enrollmentsOf(accountId));
  }

  /** The plan histories of several accounts in one read, by account id (for pages of accounts). */
  async planHistories(accountIds: readonly number[]): Promise<Map<number, Plan[]>> {
    const enrollments = await this.context.store.reads.enrollmentsOf(accountIds);
    return new Map(accountIds.map((id) => [id, planHistory(enrollments.get(id) ?? [])]));
  }

  /** The account's status under the plan in force now: the tiered plans have no grace period. */
  async status(account: Account): Promise<AccountStatus> {
    const now = this.context.clock();
    return statusUnderPlan(planAt(await this.enrollmentsOf(account.id), now), account, now);
  }

  /**
   * Publishes a free cap for an API, effective now or later, like a price version.
   * @throws FlexgateError BAD_USER_INPUT, PRICE_CHANGE_IN_PAST
   */
  async publishFreeCap(input: FreeCapPublication, actor: Actor, field = "input"): Promise<FreeCap> {
    const apiCode = cleanApiCode(input.apiCode, `${field}.apiCode`);
    const note = cleanText(input.note, `${field}.note`, { max: 2000 });
    return this.context.store.write({ apiCodes: [apiCode] }, async (tx) => {
      const now = this.context.clock();
      const { unitsPerMonth } = checkFreeCapOrThrow({ apiCode, unitsPerMonth: input.unitsPerMonth, effectiveFrom: input.effectiveFrom, note }, now);
      // Caps only for priced APIs: an API without a price rates nothing to cap, and the caps
      // then stay within the price table's bound of APIs (the cost of freeCaps relies on it).
      if ((await tx.priceVersionsOf(apiCode)).length === 0) {
        throw new FlexgateError("PRICE_NOT_FOUND", `${apiCode} has no price: publish its price before its free cap`, `${field}.apiCode`);
      }
      // As many caps per API as price versions: the caps list stays bounded (core/maxima.ts).
      if ((await tx.freeCaps()).filter((cap) => cap.apiCode === apiCode).length >= MAXIMA.versionsPerApi) {
        throw badInput(`${field}.apiCode`, `${apiCode} already has ${MAXIMA.versionsPerApi} free caps, the most one API may have`);
      }
      const effectiveFrom = await startOfChange(tx, apiCode, input.effectiveFrom ?? null, now, `${field}.effectiveFrom`, "free cap");
      const cap = await tx.insertFreeCap({ apiCode, unitsPerMonth, effectiveFrom, note, publishedBy: actor.name, publishedAt: now });
      await tx.appendAudit(actor, { action: "freeCap.publish", entityType: "FreeCap", entityId: cap.id, before: null, after: cap }, now);
      return cap;
    });
  }

  /** Per API the cap in force at `asOf` (default now), by API code. */
  async freeCaps(asOf?: Instant | null): Promise<FreeCap[]> {
    return capsInForce(await this.context.store.reads.freeCaps(), asOf ?? this.context.clock());
  }

  /** What the account used of each API's allowance in `month` (default the current one). */
  async freeUsage(accountId: number, month?: string | null): Promise<FreeUsageRow[]> {
    const now = this.context.clock();
    const which = month == null ? monthOf(now) : parseMonth(month, "month");
    return this.context.store.snapshot(async (reads) => freeUsageRows(which, await reads.freeMonthsOf(accountId, which), await reads.freeCaps(), now));
  }

  /** freeUsage of several accounts in one read, by account id (for pages of accounts). */
  async freeUsageOf(accountIds: readonly number[], month?: string | null): Promise<Map<number, FreeUsageRow[]>> {
    const now = this.context.clock();
    const which = month == null ? monthOf(now) : parseMonth(month, "month");
    return this.context.store.snapshot(async (reads) => {
      const [states, caps] = [await reads.freeMonthsOfAccounts(accountIds, which), await reads.freeCaps()];
      return new Map(accountIds.map((id) => [id, freeUsageRows(which, states.get(id) ?? new Map(), caps, now)]));
    });
  }

  /**
   * The partial units the account's next events will build on: per API, the paid remainder and
   * this month's FREE one, under the meter in force now. Remainders of an earlier meter or of a
   * past month can no longer be added to, so they are not shown; nor are zero ones.
   */
  async unitRemainders(accountId: number): Promise<UnitRemainderView[]> {
    return (await this.unitRemaindersOf([accountId])).get(accountId) ?? [];
  }

  /** unitRemainders of several accounts in one read, by account id (for pages of accounts). */
  async unitRemaindersOf(accountIds: readonly number[]): Promise<Map<number, UnitRemainderView[]>> {
    const now = this.context.clock();
    const currentMonth = monthOf(now);
    const [stored, prices] = await this.context.store.snapshot(
      async (reads) => [await reads.unitRemaindersOfAccounts(accountIds, currentMonth), await reads.priceTable()] as const,
    );
    const byAccount = new Map<number, UnitRemainderView[]>();
    for (const accountId of accountIds) {
      const views: UnitRemainderView[] = [];
      for (const { key, quantityMicros } of stored.get(accountId) ?? []) {
        if (quantityMicros === 0n) continue;
        const [apiCode, since, month] = parseRemainderKey(key);
        const versions = prices.get(apiCode) ?? [];
        const price = priceInForce(versions, now);
        if (!price || meterSince(versions, price) !== since) continue;
        if (month !== null && month !== currentMonth) continue;
        views.push({ apiCode, quantityMicros, month });
      }
      byAccount.set(accountId, views.sort((a, b) => (a.apiCode < b.apiCode ? -1 : a.apiCode > b.apiCode ? 1 : 0) || (a.month ?? "").localeCompare(b.month ?? "")));
    }
    return byAccount;
  }

  /** The account's PAYG statement of `month` ("YYYY-MM"): OPEN until 3 days after the month, then FINAL. */
  async paygStatement(accountId: number, month: string): Promise<PaygStatement> {
    const which = parseMonth(month, "month");
    return paygStatement(which, await this.context.store.reads.paygPartsOf(accountId, which), this.context.clock());
  }

  /** paygStatement of several accounts in one read, by account id (for pages of accounts). */
  async paygStatementsOf(accountIds: readonly number[], month: string): Promise<Map<number, PaygStatement>> {
    const which = parseMonth(month, "month");
    const parts = await this.context.store.reads.paygPartsOfAccounts(accountIds, which);
    const now = this.context.clock();
    return new Map(accountIds.map((id) => [id, paygStatement(which, parts.get(id) ?? [], now)]));
  }

  private async enrollmentsOf(accountId: number): Promise<Enrollment[]> {
    return (await this.context.store.reads.enrollmentsOf([accountId])).get(accountId) ?? [];
  }
}

/** remainderKey's parts: "apiCode|meterSince|month" (API codes hold no "|": cleanApiCode). */
function parseRemainderKey(key: string): [apiCode: string, meterSince: Instant, month: Month | null] {
  const last = key.lastIndexOf("|");
  const middle = key.lastIndexOf("|", last - 1);
  const month = key.slice(last + 1);
  return [key.slice(0, middle), Number(key.slice(middle + 1, last)), month === "" ? null : month];
}
