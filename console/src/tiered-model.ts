/**
 * The tiered regime (free caps, plans, free usage, Token Flex pools, PAYG statements) as the
 * console reads it, and the pure shaping of it for display. No DOM here; amounts stay text.
 */
import { type AuditEntry, formatTime, parseSnapshot } from "./model.js";

export type PlanTier = "LEGACY" | "FREE" | "PAID";

export interface Plan {
  readonly tier: PlanTier;
  readonly payg: boolean;
  /** Null for LEGACY, which is where every account starts. */
  readonly effectiveFrom: string | null;
}

export interface FreeCap {
  readonly id: string;
  readonly apiCode: string;
  readonly unitsPerMonth: number;
  readonly effectiveFrom: string;
  readonly note: string | null;
}

export interface FreeUsageRow {
  readonly apiCode: string;
  readonly capUnits: number;
  readonly usedUnits: number;
  readonly overrunUnits: number;
  readonly suspendedUntil: string | null;
}

export interface TokenFlexPool {
  readonly id: string;
  readonly tokens: string;
  readonly remaining: string;
  readonly startsAt: string;
  readonly endsAt: string;
  readonly expired: boolean;
  readonly externalRef: string;
}

export interface PaygStatement {
  readonly month: string;
  readonly status: "OPEN" | "FINAL";
  readonly tokens: string;
  readonly lines: ReadonlyArray<{ readonly apiCode: string; readonly units: number; readonly tokens: string }>;
}

export interface AccountTiers {
  readonly plan: Plan;
  readonly planHistory: readonly Plan[];
  readonly freeUsage: readonly FreeUsageRow[];
  readonly tokenFlexPools: readonly TokenFlexPool[];
  readonly paygStatement: PaygStatement;
}

/** "FREE", "PAID with PAYG", "PAID, prepay only", "LEGACY (not enrolled)". */
export function planLabel(plan: Plan): string {
  switch (plan.tier) {
    case "LEGACY":
      return "LEGACY (not enrolled)";
    case "FREE":
      return "FREE";
    case "PAID":
      return plan.payg ? "PAID with PAYG" : "PAID, prepay only";
  }
}

/** A published cap as its audit entry recorded it: who published it, and when. */
export interface PublishedCap extends FreeCap {
  readonly publishedBy: string;
  readonly publishedAt: string;
}

export type CapStatus = "SCHEDULED" | "IN_FORCE" | "SUPERSEDED";

export interface ApiCaps {
  readonly apiCode: string;
  /** The cap in force at the chosen moment, as freeCaps(asOf) answers; null when none is (a cap of 0). */
  readonly current: FreeCap | null;
  /** Every published cap of the API, newest effective first, with its status now. */
  readonly history: ReadonlyArray<PublishedCap & { readonly status: CapStatus }>;
}

/**
 * A "freeCap.publish" audit entry back to the cap it published. The snapshot is the stored cap:
 * its effectiveFrom is epoch milliseconds. Anything else (or a damaged snapshot) is null.
 */
export function capFromAudit(entry: AuditEntry): PublishedCap | null {
  if (entry.action !== "freeCap.publish") return null;
  const snapshot = parseSnapshot(entry.after);
  if (!snapshot) return null;
  const { apiCode, unitsPerMonth, effectiveFrom, note } = snapshot;
  const from = typeof effectiveFrom === "number" ? effectiveFrom : typeof effectiveFrom === "string" ? Date.parse(effectiveFrom) : Number.NaN;
  if (typeof apiCode !== "string" || typeof unitsPerMonth !== "number" || Number.isNaN(from)) return null;
  return {
    id: entry.entityId,
    apiCode,
    unitsPerMonth,
    effectiveFrom: new Date(from).toISOString(),
    note: typeof note === "string" ? note : null,
    publishedBy: entry.actor,
    publishedAt: entry.at,
  };
}

const byEffective = (a: FreeCap, b: FreeCap) => Date.parse(a.effectiveFrom) - Date.parse(b.effectiveFrom) || Number(a.id) - Number(b.id);

/**
 * One row per API that has a cap in force, ever had one published, or is among `alsoList` (the
 * priced APIs, so one without a cap shows as such): the cap in force at the chosen moment and the
 * whole history, each cap marked SCHEDULED (later than now), IN_FORCE (the latest one not later
 * than now) or SUPERSEDED.
 */
export function groupCaps(inForce: readonly FreeCap[], published: readonly PublishedCap[], nowMs: number, alsoList: readonly string[] = []): ApiCaps[] {
  const codes = new Set([...inForce.map((c) => c.apiCode), ...published.map((c) => c.apiCode), ...alsoList]);
  return [...codes].sort().map((apiCode) => {
    const sorted = published.filter((c) => c.apiCode === apiCode).sort(byEffective);
    const started = sorted.filter((c) => Date.parse(c.effectiveFrom) <= nowMs);
    const live = started[started.length - 1];
    const history = sorted
      .map((cap) => ({ ...cap, status: (cap === live ? "IN_FORCE" : Date.parse(cap.effectiveFrom) > nowMs ? "SCHEDULED" : "SUPERSEDED") as CapStatus }))
      .reverse();
    return { apiCode, current: inForce.find((c) => c.apiCode === apiCode) ?? null, history };
  });
}

/** "3 units a month", "1 unit a month", "0 units a month (no free use)". */
export function capLabel(units: number): string {
  return `${units} ${units === 1 ? "unit" : "units"} a month${units === 0 ? " (no free use)" : ""}`;
}

/** The calendar month (UTC) of an instant, as the API names months: "2026-01". */
export const monthOf = (ms: number) => new Date(ms).toISOString().slice(0, 7);

/** "until 2026-02-01 00:00 UTC", or "—" when the API is not suspended. */
export const suspendedText = (until: string | null) => (until ? `until ${formatTime(until)}` : "—");
