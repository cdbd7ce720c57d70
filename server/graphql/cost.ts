import { getNamedType, isLeafType, isListType, isNonNullType, type GraphQLField, type GraphQLOutputType } from "graphql";
import type { ComplexityEstimatorArgs } from "graphql-query-complexity";
import { ALLOCATIONS_PER_CHARGE, MAXIMA } from "../core/maxima.js";
import { DAY_MS } from "../core/time.js";
import { DEFAULT_PAGE_SIZE } from "../services/context.js";

/**
 * The cost model. An object costs 1 and a scalar nothing (a scalar is a property of an object
 * already read); a list multiplies what one item costs by the most items it can hold (a
 * connection by its page size, any other list by its hard maximum from core/maxima.ts); a field
 * that reads much of the ledger adds the weight of that read. The cost of a query is therefore
 * an upper bound of the objects it can make the server build, however large the data.
 */

/**
 * One read of many ledger rows (a forecast, a balance in the past, a usage report): the budget
 * (LIMITS.maxCost, 100,000) allows three such reads in one request, and no more, so one request
 * holds the event loop for a few reads at most.
 */
export const HEAVY_READ = 30_000;

/**
 * A usage report also scans the account's charges over its range, so a day of range weighs 60:
 * a year of daily usage costs as much as three forecasts, and three years by month (the longest
 * window) fit in one request.
 */
const SCAN_PER_DAY = 60;

type Args = Record<string, unknown>;

/** The days a [from, to) window spans, at most `max` (a longer one is refused when it runs). */
function windowDays(args: Args, max: number): number {
  const { from, to } = args;
  if (typeof from !== "number" || typeof to !== "number" || to <= from) return max;
  return Math.min(Math.ceil((to - from) / DAY_MS), max);
}

function summaryRows(args: Args): number {
  const byDay = args.groupBy === "DAY";
  const days = windowDays(args, byDay ? MAXIMA.summaryDaysByDay : MAXIMA.summaryDaysByMonth);
  // A window of d days touches at most ceil(d / 28) + 1 calendar months.
  const periods = byDay ? days : Math.ceil(days / 28) + 1;
  return periods * MAXIMA.pricedApis;
}

/** The most items each list field of the schema can hold, by `Type.field`. */
const LIST_SIZES: Record<string, (args: Args) => number> = {
  "Account.alerts": () => MAXIMA.alertsPerAccount,
  "Account.creditLots": (args) => (args.includeExpired ? MAXIMA.creditLotsPerAccount : MAXIMA.creditLotsAtOnce),
  "Account.flexPacks": (args) => (args.includeExpired ? MAXIMA.flexPacksPerAccount : MAXIMA.flexPacksAtOnce),
  "Account.usageSummary": summaryRows,
  "UsageCharge.allocations": () => ALLOCATIONS_PER_CHARGE,
  "UsageQuote.allocations": () => ALLOCATIONS_PER_CHARGE,
  "UsageCharge.labels": () => MAXIMA.labelsPerEvent,
  "PriceEntry.chargeableOutcomes": () => 3,
  "Query.priceVersions": () => MAXIMA.pricedApis * MAXIMA.versionsPerApi,
  "Query.priceHistory": () => MAXIMA.versionsPerApi,
  "Query.priceTable": () => MAXIMA.pricedApis,
  "Query.apiKeys": () => MAXIMA.apiKeys,
  "PriceImpact.accounts": () => MAXIMA.impactAccounts,
  "Reseller.locations": () => MAXIMA.facetEntries,
  "Reseller.languages": () => MAXIMA.facetEntries,
  "Reseller.services": () => MAXIMA.facetEntries,
  // The tiered regime (domain §8): one row per API at most, a remainder per API for the paid
  // plan and one for this FREE month, LEGACY plus each enrollment.
  "Account.planHistory": () => MAXIMA.enrollmentsPerAccount + 1,
  "Account.freeUsage": () => MAXIMA.pricedApis,
  "Account.tokenFlexPools": () => MAXIMA.tokenFlexPoolsPerAccount,
  "Account.unitRemainders": () => 2 * MAXIMA.pricedApis,
  "PaygStatement.lines": () => MAXIMA.pricedApis,
  "Query.freeCaps": () => MAXIMA.pricedApis,
  // A batch answers one result per event given; a longer batch is refused when it runs.
  "Mutation.recordUsageBatch": (args) => Math.min(Array.isArray(args.inputs) ? args.inputs.length : MAXIMA.eventsPerBatch, MAXIMA.eventsPerBatch),
};

/**
 * The list argument of each field whose cost reads nothing of its arguments but how many items
 * that list holds: a document passing it whole as a variable costs the same for every list of the
 * same length, however its items differ.
 */
export const LENGTH_ONLY_ARGUMENTS: Record<string, string> = { "Mutation.recordUsageBatch": "inputs" };

/** The weight of the ledger read behind a field, beyond the objects it returns. */
const READ_WEIGHTS: Record<string, (args: Args) => number> = {
  // A balance in the past replays every allocation before asOf, however old: two per request.
  "Account.balance": (args) => (args.asOf == null ? 0 : 1.5 * HEAVY_READ),
  "Account.forecast": () => HEAVY_READ,
  // Alerts read the account's lots, Token Flex pools and packs, expired ones included, its
  // enrollments, and for a FREE plan its month of free usage (a row per API); the free caps come
  // with the price book, which the store keeps in memory between changes.
  "Account.alerts": () =>
    MAXIMA.creditLotsPerAccount + MAXIMA.tokenFlexPoolsPerAccount + MAXIMA.flexPacksPerAccount + MAXIMA.enrollmentsPerAccount + MAXIMA.pricedApis,
  "Account.usageSummary": (args) => HEAVY_READ + SCAN_PER_DAY * windowDays(args, args.groupBy === "DAY" ? MAXIMA.summaryDaysByDay : MAXIMA.summaryDaysByMonth),
  // A statement sums the PAYG parts of one month: about as many rows as a month of the
  // account's charges, the scan a MONTH usage report makes of one month.
  "Account.paygStatement": () => SCAN_PER_DAY * 31,
  "Query.quoteUsage": () => HEAVY_READ / 5,
  "Query.usageAuthorization": () => HEAVY_READ / 5,
  // Re-rates the API's charges of every account over `days` (default 30).
  "Mutation.previewPriceChange": (args) => HEAVY_READ + 50 * Math.min(typeof args.days === "number" ? args.days : 30, MAXIMA.impactDays),
};

const isList = (type: GraphQLOutputType): boolean => isListType(isNonNullType(type) ? type.ofType : type);

/** The items of one connection page: its `first`, or the default page size. */
function pageItems(args: Args): number {
  return typeof args.first === "number" && args.first > 0 ? Math.min(args.first, MAXIMA.pageSize) : DEFAULT_PAGE_SIZE;
}

/** The most items a list or connection field returns; 1 for any other field. */
export function itemsOf(typeName: string, field: GraphQLField<unknown, unknown>, args: Args): number {
  if (getNamedType(field.type).name.endsWith("Connection")) return pageItems(args);
  // A page's edges were counted on the connection field, which knows the page size.
  if (!isList(field.type) || (typeName.endsWith("Connection") && field.name === "edges")) return 1;
  const size = LIST_SIZES[`${typeName}.${field.name}`];
  // A list without a maximum is a defect in this table; a test holds every list of the schema to it.
  if (!size) throw new Error(`no maximum size for the list ${typeName}.${field.name}`);
  return size(args);
}

/**
 * Whether the cost of `Type.field` can depend on the values of its arguments (a page size, a
 * window, a batch's length). Every other field costs the same whatever its arguments say.
 */
export function costReadsArguments(typeName: string, field: GraphQLField<unknown, unknown>): boolean {
  const key = `${typeName}.${field.name}`;
  return key in LIST_SIZES || key in READ_WEIGHTS || getNamedType(field.type).name.endsWith("Connection");
}

/** graphql-query-complexity's estimator for this schema. */
export function estimateCost({ type, field, args, childComplexity }: ComplexityEstimatorArgs): number {
  // Introspection is answered from the schema, whose size is fixed; the selection limit bounds it.
  if (field.name.startsWith("__") || type.name.startsWith("__")) return 0;
  const key = `${type.name}.${field.name}`;
  const own = isLeafType(getNamedType(field.type)) ? 0 : 1;
  return (READ_WEIGHTS[key]?.(args) ?? 0) + itemsOf(type.name, field, args) * (own + childComplexity);
}
