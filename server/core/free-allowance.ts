/**
 * The Free tier's monthly allowance (domain §8): effective-dated caps per API, free units up to
 * the cap in the month of occurredAt, OVERRUN beyond, and the API's suspension until the next
 * month once the cap is reached.
 *
 * How a service uses it: load the published caps (all of them: they are few) and, per account,
 * the FreeMonth state of each API and month the events touch (EMPTY_FREE_MONTH when none is
 * stored). Tiered rating (tiered-rating.ts) reads and updates them; `freeUsageRows` and
 * `capsInForce` answer the reads.
 */
import { badInput, FlexgateError } from "./errors.js";
import { type Month, monthOf, monthStart, nextMonthStart } from "./month.js";
import { formatInstant, type Instant } from "./time.js";

export interface FreeCap {
  readonly id: number;
  readonly apiCode: string;
  /** Whole units a FREE account may use each month. */
  readonly unitsPerMonth: number;
  readonly effectiveFrom: Instant;
  readonly note: string | null;
}

/** The instant a month's used units first reached one cap level. */
export interface Reach {
  readonly units: bigint;
  readonly at: Instant;
}

/** What one account used of one API's allowance in one month. */
export interface FreeMonth {
  /** Units given free; at most the cap. */
  readonly usedUnits: bigint;
  /** Units beyond the cap: recorded, never billed. */
  readonly overrunUnits: bigint;
  /** The latest occurredAt among the month's events. */
  readonly latestAt: Instant | null;
  /**
   * When the used units first reached each level of a cap in force during the month, by units:
   * the suspension under a cap starts at its own level's reach. One instant for the whole month
   * would not do: after a cap raised mid-month is reached too, a late event must still find the
   * API suspended under the lower cap from the first reach, and an event under the higher cap
   * not suspended before the second.
   */
  readonly reaches: readonly Reach[];
}

export const EMPTY_FREE_MONTH: FreeMonth = Object.freeze({ usedUnits: 0n, overrunUnits: 0n, latestAt: null, reaches: Object.freeze([]) });

export function freeMonthKey(apiCode: string, month: Month): string {
  return `${apiCode}|${month}`;
}

const byEffectiveFrom = (a: FreeCap, b: FreeCap) => a.effectiveFrom - b.effectiveFrom || a.id - b.id;

/** The cap of `apiCode` in force at `t`, in units; 0 when none is (domain §8). */
export function capAt(caps: readonly FreeCap[], apiCode: string, t: Instant): bigint {
  let units = 0;
  for (const cap of [...caps].sort(byEffectiveFrom)) {
    if (cap.effectiveFrom > t) break;
    if (cap.apiCode === apiCode) units = cap.unitsPerMonth;
  }
  return BigInt(units);
}

/** The levels of `apiCode`'s caps in force at some instant of `month`, the one at its start first. */
export function capLevelsOf(caps: readonly FreeCap[], apiCode: string, month: Month): bigint[] {
  const start = monthStart(month);
  const end = nextMonthStart(start);
  const levels = [capAt(caps, apiCode, start)];
  for (const cap of caps) if (cap.apiCode === apiCode && cap.effectiveFrom > start && cap.effectiveFrom < end) levels.push(BigInt(cap.unitsPerMonth));
  return levels;
}

/** `freeCaps(asOf)`: per API the cap in force at `asOf`, by API code. */
export function capsInForce(caps: readonly FreeCap[], asOf: Instant): FreeCap[] {
  const current = new Map<string, FreeCap>();
  for (const cap of [...caps].sort(byEffectiveFrom)) if (cap.effectiveFrom <= asOf) current.set(cap.apiCode, cap);
  return [...current.values()].sort((a, b) => (a.apiCode < b.apiCode ? -1 : a.apiCode > b.apiCode ? 1 : 0));
}

/**
 * Whether the API is suspended for usage at `t` of the month `state` counts, `capUnits` being the
 * cap in force at `t`: from the instant the month's used units reached that cap's level to the
 * month's end, and only while they still do, so a cap raised mid-month or free units given back
 * by a reversal lift it.
 *
 * A level is reached when an event takes its last free unit, at the latest occurredAt the month
 * has seen then (takeFreeUnits). A level no event reached, that of a cap published after the
 * used units passed it, is reached from the month's latestAt on: no event marks that moment, and
 * the cap in force at `t` took effect at or before `t`. Used units of 0 reach no level that way:
 * under a cap of 0 the first event is recorded, all overrun, and suspends.
 *
 * Decision: an event that occurred before the suspension began is not refused when it arrives
 * late (the API was not suspended when it ran); it finds no free units left and is an overrun.
 */
export function isSuspendedAt(state: FreeMonth, capUnits: bigint, t: Instant): boolean {
  const reachedAt = reachOf(state, capUnits);
  return reachedAt !== null && t >= reachedAt;
}

/** When the used units reached `level`, as isSuspendedAt explains; null while they do not. */
function reachOf(state: FreeMonth, level: bigint): Instant | null {
  if (state.usedUnits < level) return null;
  return state.reaches.find((reach) => reach.units === level)?.at ?? (state.usedUnits > 0n ? state.latestAt : null);
}

/** @throws FlexgateError API_SUSPENDED when the API is suspended at `t` (no field: it is the account's state). */
export function assertNotSuspended(state: FreeMonth, capUnits: bigint, apiCode: string, t: Instant): void {
  if (isSuspendedAt(state, capUnits, t)) throw new FlexgateError("API_SUSPENDED", suspensionMessage(apiCode, capUnits, t));
}

export function suspensionMessage(apiCode: string, capUnits: bigint, t: Instant): string {
  return (
    `${apiCode} is suspended for this account until ${formatInstant(nextMonthStart(t))}: the month's free cap of ${capUnits} units is used; ` +
    "other APIs still work, and enrolling in a paid tier lifts it"
  );
}

export interface FreeTake {
  readonly freeUnits: bigint;
  readonly overrunUnits: bigint;
  readonly state: FreeMonth;
}

/**
 * Gives an event's units free up to `capUnits`, the cap in force at its occurredAt; the rest is an
 * overrun. Each of the month's cap levels (`levels`, from capLevelsOf) the used units now reach
 * for the first time is reached at the latest occurredAt the month has seen: that is when, as far
 * as the events tell, the usage reached it, whatever order they arrived in. A level they had
 * passed before, that of a cap published since, keeps the instant isSuspendedAt counted it from,
 * before this event moves the month's latestAt. With a cap of 0 (none in force) the first event
 * is recorded, all overrun, and suspends the API.
 */
export function takeFreeUnits(state: FreeMonth, units: bigint, capUnits: bigint, occurredAt: Instant, levels: readonly bigint[] = [capUnits]): FreeTake {
  const left = capUnits > state.usedUnits ? capUnits - state.usedUnits : 0n;
  const freeUnits = units < left ? units : left;
  const overrunUnits = units - freeUnits;
  const usedUnits = state.usedUnits + freeUnits;
  const latestAt = state.latestAt === null || occurredAt > state.latestAt ? occurredAt : state.latestAt;
  let reaches = state.reaches;
  for (const level of levels) {
    if (reaches.some((reach) => reach.units === level)) continue;
    const at = reachOf(state, level) ?? (usedUnits >= level && (usedUnits > 0n || capUnits === 0n) ? latestAt : null);
    if (at !== null) reaches = [...reaches, { units: level, at }].sort((a, b) => (a.units < b.units ? -1 : 1));
  }
  return { freeUnits, overrunUnits, state: { usedUnits, overrunUnits: state.overrunUnits + overrunUnits, latestAt, reaches } };
}

/**
 * A reversal gives the units back to their month; the suspension lifts if used falls under the
 * cap, and a level the used units no longer reach is reached again only by later usage. A month
 * whose every unit was given back reaches not even level 0, as if nothing had used it.
 */
export function returnFreeUnits(state: FreeMonth, freeUnits: bigint, overrunUnits: bigint): FreeMonth {
  if (freeUnits > state.usedUnits || overrunUnits > state.overrunUnits) throw new RangeError("cannot return more units than were used");
  const usedUnits = state.usedUnits - freeUnits;
  const unitsLeft = usedUnits + state.overrunUnits - overrunUnits;
  const reaches = state.reaches.filter((reach) => reach.units <= usedUnits && (reach.units > 0n || unitsLeft > 0n));
  return { ...state, usedUnits, overrunUnits: state.overrunUnits - overrunUnits, reaches };
}

export interface FreeUsageRow {
  readonly apiCode: string;
  readonly capUnits: bigint;
  /** Never above capUnits (api.md). */
  readonly usedUnits: bigint;
  readonly overrunUnits: bigint;
  readonly suspendedUntil: Instant | null;
}

/**
 * `freeUsage(month)`: one row per API with usage or a cap that month. The cap shown is the one in
 * force at `asOf`, or at the month's last instant for a past month. Free units given under a
 * higher cap that was later lowered show as overrun, so usedUnits never exceeds capUnits.
 */
export function freeUsageRows(
  month: Month,
  /** The account's FreeMonth states of that month, by API code. */
  states: ReadonlyMap<string, FreeMonth>,
  caps: readonly FreeCap[],
  asOf: Instant,
): FreeUsageRow[] {
  const at = Math.min(asOf, nextMonthStart(monthStart(month)) - 1);
  const apiCodes = new Set(capsInForce(caps, at).filter((cap) => cap.unitsPerMonth > 0).map((cap) => cap.apiCode));
  for (const apiCode of states.keys()) apiCodes.add(apiCode);
  return [...apiCodes].sort().map((apiCode) => {
    const state = states.get(apiCode) ?? EMPTY_FREE_MONTH;
    const capUnits = capAt(caps, apiCode, at);
    const usedUnits = state.usedUnits < capUnits ? state.usedUnits : capUnits;
    return {
      apiCode,
      capUnits,
      usedUnits,
      overrunUnits: state.overrunUnits + state.usedUnits - usedUnits,
      // Only the month in course can be suspended now; a past month's suspension has ended.
      suspendedUntil: monthOf(asOf) === month && isSuspendedAt(state, capUnits, asOf) ? nextMonthStart(asOf) : null,
    };
  });
}

/** The largest cap accepted: far above any real monthly allowance, far inside GraphQL's Int. */
export const MAX_UNITS_PER_MONTH = 1_000_000_000;

export interface FreeCapRequest {
  readonly apiCode: string;
  readonly unitsPerMonth: number;
  /** Omitted means now. */
  readonly effectiveFrom?: Instant | null;
  readonly note: string;
}

/**
 * Checks a cap to publish. Caps are published like prices (domain §2): append-only, effective
 * now or later, never in the past, since usage already rated under the old cap must keep its
 * free units. A cap set to 0 takes an API off the Free tier.
 * @throws BAD_USER_INPUT `input.unitsPerMonth` unless a whole number from 0 to 1e9;
 *   PRICE_CHANGE_IN_PAST `input.effectiveFrom` for a start before now.
 */
export function checkFreeCapOrThrow(request: FreeCapRequest, now: Instant): { readonly unitsPerMonth: number; readonly effectiveFrom: Instant } {
  const { unitsPerMonth } = request;
  if (!Number.isSafeInteger(unitsPerMonth) || unitsPerMonth < 0 || unitsPerMonth > MAX_UNITS_PER_MONTH) {
    throw badInput("input.unitsPerMonth", `input.unitsPerMonth must be a whole number from 0 to ${MAX_UNITS_PER_MONTH}`);
  }
  const effectiveFrom = request.effectiveFrom ?? now;
  if (effectiveFrom < now) {
    throw new FlexgateError("PRICE_CHANGE_IN_PAST", "a free cap takes effect now or in the future, never in the past", "input.effectiveFrom");
  }
  return { unitsPerMonth, effectiveFrom };
}
