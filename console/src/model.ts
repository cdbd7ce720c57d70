/**
 * What the console reads from the API, and the pure shaping of it for display. No DOM here.
 * Amounts stay decimal strings from end to end: the console never does arithmetic on them.
 */

export type PriceStatus = "SCHEDULED" | "ACTIVE" | "SUPERSEDED" | "CANCELLED";
export const METERS = ["SECOND", "JOB", "PHOTO", "CALL", "GIGAPIXEL", "MEGABYTE"] as const;
export const OUTCOMES = ["SUCCEEDED", "FAILED", "CANCELLED"] as const;
export type Meter = (typeof METERS)[number];
export type Outcome = (typeof OUTCOMES)[number];

export interface PriceEntry {
  readonly id: string;
  readonly apiCode: string;
  readonly name: string;
  readonly meter: Meter;
  readonly unitQuantity: number;
  readonly tokensPerUnit: string;
  readonly chargeableOutcomes: readonly Outcome[];
  readonly effectiveFrom: string;
  readonly effectiveTo: string | null;
  readonly status: PriceStatus;
  readonly note: string;
  readonly publishedBy: string;
  readonly publishedAt: string;
  readonly retired: boolean;
  readonly cancelledBy: string | null;
  readonly cancelReason: string | null;
}

export interface PriceImpact {
  readonly days: number;
  readonly events: number;
  readonly zeroChargeEvents: number;
  readonly currentTokens: string;
  readonly proposedTokens: string;
  readonly deltaTokens: string;
  readonly accountCount: number;
  readonly accounts: readonly AccountImpact[];
}

export interface AccountImpact {
  readonly account: { readonly id: string; readonly name: string; readonly status: string };
  readonly events: number;
  readonly zeroChargeEvents: number;
  readonly currentTokens: string;
  readonly proposedTokens: string;
  readonly deltaTokens: string;
  readonly changePercent: string | null;
  readonly depletesAt: string | null;
  readonly proposedDepletesAt: string | null;
}

/** True when the account's balance would run out earlier under the proposal (or at all, where it did not). */
export function runsOutSooner(impact: AccountImpact): boolean {
  if (impact.proposedDepletesAt === null) return false;
  return impact.depletesAt === null || Date.parse(impact.proposedDepletesAt) < Date.parse(impact.depletesAt);
}

export interface AuditEntry {
  readonly id: string;
  readonly at: string;
  readonly actor: string;
  readonly actorRole: string;
  readonly action: string;
  readonly entityType: string;
  readonly entityId: string;
  readonly before: string | null;
  readonly after: string | null;
}

export interface AccountSummary {
  readonly id: string;
  readonly name: string;
  readonly country: string | null;
  readonly status: string;
  readonly balance: { readonly available: string; readonly deficit: string };
  readonly alerts: ReadonlyArray<{ readonly kind: string }>;
}

export interface Allocation {
  readonly source: string;
  readonly amount: string;
  /** Whole charged units of a FREE_ALLOWANCE, OVERRUN or PAYG part; null otherwise. */
  readonly units?: number | null;
  readonly creditLot: { readonly id: string } | null;
  readonly flexPack: { readonly id: string } | null;
  readonly tokenFlexPool?: { readonly id: string } | null;
}

export interface Charge {
  readonly id: string;
  readonly eventId: string;
  readonly apiCode: string;
  readonly quantity: string;
  readonly outcome: string;
  readonly occurredAt: string;
  readonly tokens: string;
  readonly reversed: boolean;
  readonly reversedAt: string | null;
  readonly allocations: readonly Allocation[];
}

export interface AccountDetail {
  readonly id: string;
  readonly name: string;
  readonly country: string | null;
  readonly status: string;
  readonly balancePolicy: string;
  readonly reseller: { readonly name: string } | null;
  readonly balance: { readonly cloudCredits: string; readonly flexTokens: string; readonly deficit: string; readonly available: string; readonly graceEndsAt: string | null };
  readonly forecast: { readonly burnRatePerDay: string; readonly depletesAt: string | null };
  readonly alerts: ReadonlyArray<{ readonly kind: string; readonly message: string; readonly tokens: string | null; readonly at: string | null }>;
  readonly creditLots: ReadonlyArray<{ readonly id: string; readonly amount: string; readonly remaining: string; readonly purchasedAt: string; readonly expiresAt: string; readonly expired: boolean; readonly externalRef: string }>;
  readonly flexPacks: ReadonlyArray<{ readonly id: string; readonly tokens: string; readonly remaining: string; readonly purchasedAt: string; readonly expiresAt: string; readonly expired: boolean; readonly channel: string; readonly orderRef: string }>;
  readonly charges: { readonly edges: ReadonlyArray<{ readonly node: Charge }>; readonly totalCount: number };
}

export interface ApiKey {
  readonly id: string;
  readonly name: string;
  readonly role: string;
  readonly secretPrefix: string;
  readonly createdAt: string;
  readonly createdBy: string;
  readonly revokedAt: string | null;
  readonly reseller: { readonly id: string; readonly name: string } | null;
}

/** The sources with no lot or pack of their own, in words (the tiered ones from domain §8). */
const SOURCE_LABELS: Record<string, string> = {
  DEFICIT: "Deficit",
  FREE_ALLOWANCE: "Free allowance",
  OVERRUN: "Overrun (not billed)",
  TOKEN_FLEX: "Token Flex pool",
  PAYG: "PAYG statement",
};

/** "FLEX_PACK #3 0.5" lines: what paid a charge, as a receipt shows it. */
export function receiptLine(allocation: Allocation): string {
  const source = allocation.creditLot
    ? `Credit lot #${allocation.creditLot.id}`
    : allocation.flexPack
      ? `Flex pack #${allocation.flexPack.id}`
      : allocation.tokenFlexPool
        ? `Token Flex pool #${allocation.tokenFlexPool.id}`
        : (SOURCE_LABELS[allocation.source] ?? allocation.source);
  // Free and overrun parts cost no tokens: their units are what counts.
  if (allocation.units != null && (allocation.source === "FREE_ALLOWANCE" || allocation.source === "OVERRUN")) {
    return `${source}: ${allocation.units} ${allocation.units === 1 ? "unit" : "units"}`;
  }
  const units = allocation.units != null ? ` (${allocation.units} ${allocation.units === 1 ? "unit" : "units"})` : "";
  return `${source}: ${tokensLabel(allocation.amount)}${units}`;
}

/** "a" or "an" before a role or any upper-case word, as it is read aloud. */
export const article = (word: string) => (/^[AEIOU]/.test(word) ? "an" : "a");

export interface Viewer {
  readonly role: string;
  readonly name: string;
}

/** One API code and its versions, as the price table shows it. */
export interface ApiPrices {
  readonly apiCode: string;
  readonly name: string;
  /** The version in force now, unless the API is retired or not priced yet. */
  readonly current: PriceEntry | null;
  /** The retirement marker in force now, when the API is retired. */
  readonly retiredBy: PriceEntry | null;
  /** Versions (and retirements) waiting to take effect, soonest first. */
  readonly scheduled: readonly PriceEntry[];
  /** Every version, newest first. */
  readonly history: readonly PriceEntry[];
}

const byEffective = (a: PriceEntry, b: PriceEntry) =>
  a.effectiveFrom < b.effectiveFrom ? -1 : a.effectiveFrom > b.effectiveFrom ? 1 : Number(a.id) - Number(b.id);

export function groupByApi(versions: readonly PriceEntry[]): ApiPrices[] {
  const byCode = new Map<string, PriceEntry[]>();
  for (const version of versions) {
    const list = byCode.get(version.apiCode) ?? [];
    list.push(version);
    byCode.set(version.apiCode, list);
  }
  return [...byCode.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([apiCode, list]) => {
      const sorted = [...list].sort(byEffective);
      const active = sorted.find((v) => v.status === "ACTIVE") ?? null;
      const latestNamed = [...sorted].reverse().find((v) => v.status !== "CANCELLED") ?? sorted[sorted.length - 1]!;
      return {
        apiCode,
        name: (active ?? latestNamed).name,
        current: active && !active.retired ? active : null,
        retiredBy: active && active.retired ? active : null,
        scheduled: sorted.filter((v) => v.status === "SCHEDULED"),
        history: sorted.reverse(),
      };
    });
}

/** The version of the API that already takes effect at `iso` (the server refuses two at one instant). */
export function clashingVersion(api: ApiPrices, iso: string): PriceEntry | null {
  const at = Date.parse(iso);
  return api.history.find((v) => v.status !== "CANCELLED" && Date.parse(v.effectiveFrom) === at) ?? null;
}

export function matchesFilter(api: ApiPrices, filter: string): boolean {
  const needle = filter.trim().toLowerCase();
  return needle === "" || api.apiCode.includes(needle) || api.name.toLowerCase().includes(needle);
}

/** The same moment in the browser's time zone, for reading beside UTC: "Jan 15, 2026, 6:00 PM". */
export function localTime(iso: string | null | undefined): string {
  const ms = iso ? Date.parse(iso) : Number.NaN;
  return Number.isNaN(ms) ? "" : new Date(ms).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

/** "2022-03-29T00:00:00.000Z" → "2022-03-29 00:00 UTC" (seconds only when they matter). */
export function formatTime(iso: string | null | undefined): string {
  if (!iso) return "—";
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return iso;
  const text = new Date(ms).toISOString();
  const seconds = text.slice(17, 19);
  return `${text.slice(0, 10)} ${text.slice(11, 16)}${seconds === "00" ? "" : `:${seconds}`} UTC`;
}

export function tokensLabel(amount: string): string {
  return `${amount} ${amount === "1" ? "token" : "tokens"}`;
}

/** "3600 SECOND", "1 JOB". */
export function unitLabel(entry: { unitQuantity: number; meter: string }): string {
  return `${entry.unitQuantity} ${entry.meter}`;
}

/** "0.5 tokens per 1 JOB", or "Retired" for a retirement marker. */
export function rateLabel(entry: PriceEntry): string {
  return entry.retired ? "Retired" : `${tokensLabel(entry.tokensPerUnit)} per ${unitLabel(entry)}`;
}

/** A signed difference for display: "+1", "-0.25", "0". */
export function signed(amount: string): string {
  return amount.startsWith("-") || /^0(\.0*)?$/.test(amount) ? amount : `+${amount}`;
}

/** Micro-token integers (as the audit snapshots store them) back to decimal text, exactly. */
export function microsToDecimal(micros: string): string | null {
  if (!/^-?[0-9]{1,20}$/.test(micros)) return null;
  const value = BigInt(micros);
  const negative = value < 0n;
  const abs = negative ? -value : value;
  const fraction = (abs % 1_000_000n).toString().padStart(6, "0").replace(/0+$/, "");
  return `${negative ? "-" : ""}${abs / 1_000_000n}${fraction ? `.${fraction}` : ""}`;
}

const ACTION_LABELS: Record<string, string> = {
  "price.publish": "Published a version",
  "price.retire": "Retired an API",
  "price.cancel": "Cancelled a scheduled version",
  "charge.reverse": "Reversed a charge",
  "apiKey.create": "Created an API key",
  "apiKey.revoke": "Revoked an API key",
  "account.create": "Created an account",
  "account.update": "Changed an account",
  "reseller.create": "Created a reseller",
  "reseller.update": "Changed a reseller",
  "creditLot.import": "Imported a cloud-credit lot",
  "flexPack.record": "Recorded a Flex pack",
  "freeCap.publish": "Published a free cap",
  "plan.enroll": "Enrolled an account in a plan",
  "tokenFlexPool.import": "Imported a Token Flex pool",
};

export function actionLabel(action: string): string {
  return ACTION_LABELS[action] ?? action;
}

/** A parsed audit snapshot, or null when it is absent or not a JSON object. */
export function parseSnapshot(json: string | null): Record<string, unknown> | null {
  if (!json) return null;
  try {
    const value: unknown = JSON.parse(json);
    return value && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

function instantText(value: unknown): string | null {
  if (typeof value === "number" && Number.isFinite(value)) return formatTime(new Date(value).toISOString());
  if (typeof value === "string" && value !== "") return formatTime(value);
  return null;
}

/**
 * The facts of a price change worth a glance in the audit log, read from its snapshot. Snapshots
 * are the server's record of the version; both the GraphQL shape (tokensPerUnit as decimal text)
 * and the stored shape (tokensPerUnitMicros) are understood.
 */
export function summarizeSnapshot(snapshot: Record<string, unknown> | null): Array<[string, string]> {
  if (!snapshot) return [];
  const facts: Array<[string, string]> = [];
  const text = (key: string) => (typeof snapshot[key] === "string" ? (snapshot[key] as string) : null);
  const apiCode = text("apiCode");
  if (apiCode) facts.push(["API", apiCode]);
  const rate =
    text("tokensPerUnit") ??
    (typeof snapshot.tokensPerUnitMicros === "string" || typeof snapshot.tokensPerUnitMicros === "number"
      ? microsToDecimal(String(snapshot.tokensPerUnitMicros))
      : null);
  if (typeof snapshot.unitsPerMonth === "number") facts.push(["Free cap", `${snapshot.unitsPerMonth} units a month`]);
  if (snapshot.retired === true) facts.push(["Rate", "Retired"]);
  else if (rate !== null) {
    const unit = typeof snapshot.unitQuantity === "number" && text("meter") ? ` per ${snapshot.unitQuantity} ${text("meter")}` : "";
    facts.push(["Rate", `${tokensLabel(rate)}${unit}`]);
  }
  const from = instantText(snapshot.effectiveFrom);
  if (from) facts.push(["Effective", from]);
  const status = text("status");
  if (status) facts.push(["Status", status]);
  const note = text("note");
  if (note) facts.push(["Note", note]);
  const reason = text("reason");
  if (reason) facts.push(["Reason", reason]);
  return facts;
}

export function prettyJson(json: string | null): string {
  if (!json) return "—";
  const parsed = parseSnapshot(json);
  return parsed ? JSON.stringify(parsed, null, 2) : json;
}

/** A price snapshot's rate as the price table says it, or null when the snapshot has none. */
function snapshotRate(snapshot: Record<string, unknown> | null): string | null {
  if (!snapshot) return null;
  if (snapshot.retired === true) return "Retired";
  const raw = snapshot.tokensPerUnit ?? snapshot.tokensPerUnitMicros;
  const rate = typeof snapshot.tokensPerUnit === "string" ? snapshot.tokensPerUnit : typeof raw === "string" || typeof raw === "number" ? microsToDecimal(String(raw)) : null;
  if (rate === null) return null;
  const unit = typeof snapshot.unitQuantity === "number" && typeof snapshot.meter === "string" ? ` per ${snapshot.unitQuantity} ${snapshot.meter}` : "";
  return `${tokensLabel(rate)}${unit}`;
}

/**
 * An audit entry as a sentence of what changed: "design-automation/revit: 2 → 2.5 tokens per
 * 3600 SECOND from 2026-03-01 00:00 UTC". `previous` is the version that was in force before a
 * publication (its snapshot has no "before": a version is new).
 */
export function auditSummary(entry: AuditEntry, previous: PriceEntry | null): string | null {
  const after = parseSnapshot(entry.after);
  const before = parseSnapshot(entry.before);
  const apiCode = typeof (after ?? before)?.apiCode === "string" ? `${String((after ?? before)!.apiCode)}: ` : "";
  const from = instantText((after ?? before)?.effectiveFrom);
  const when = from ? ` from ${from}` : "";
  switch (entry.action) {
    case "price.publish": {
      const rate = snapshotRate(after);
      if (!rate) return null;
      if (!previous) return `${apiCode}first price, ${rate}${when}`;
      if (previous.retired) return `${apiCode}back after retirement, ${rate}${when}`;
      const sameUnit = rate.endsWith(` per ${unitLabel(previous)}`);
      return `${apiCode}${sameUnit ? previous.tokensPerUnit : rateLabel(previous)} → ${rate}${when}`;
    }
    case "price.cancel":
      return `${apiCode}${snapshotRate(after ?? before) ?? "a version"}${when} will not take effect`;
    case "price.retire":
      return `${apiCode}retired${when}`;
    case "freeCap.publish":
      return typeof after?.unitsPerMonth === "number" ? `${apiCode}free cap of ${after.unitsPerMonth} units a month${when}` : null;
    default:
      return null;
  }
}

/** The version of the same API in force just before `version` would take effect (cancelled ones aside). */
export function versionBefore(versions: readonly PriceEntry[], version: { apiCode: string; id: string; effectiveFrom: string }): PriceEntry | null {
  const at = Date.parse(version.effectiveFrom);
  let found: PriceEntry | null = null;
  for (const v of versions) {
    if (v.apiCode !== version.apiCode || v.id === version.id || v.status === "CANCELLED" || Date.parse(v.effectiveFrom) >= at) continue;
    if (!found || Date.parse(v.effectiveFrom) > Date.parse(found.effectiveFrom)) found = v;
  }
  return found;
}
