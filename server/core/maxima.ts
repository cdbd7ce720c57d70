/**
 * The hard maxima of everything that can grow: how many lots, packs, prices, keys and report
 * rows there may be. Each is enforced where the data is written or asked for, and the query cost
 * model (graphql/cost.ts) multiplies by it, so the cost of a query is an upper bound of the rows
 * it can make the server read, whatever the data. README "Guarantees" lists them.
 */
/** Metered API codes the price book may hold; several maxima are per API. */
const PRICED_APIS = 100;

export const MAXIMA = Object.freeze({
  /**
   * Flex packs of one account whose year of validity overlaps a new pack's year: the purchase
   * that would make it 101 is refused. At most this many packs are valid at any one instant, so
   * `flexPacks` (unexpired ones) and one charge's receipt stay short whatever a seller records.
   */
  flexPacksAtOnce: 100,
  /** Cloud-credit lots of one account whose year overlaps a new lot's year (as for packs). */
  creditLotsAtOnce: 100,
  /** Flex packs one account may ever hold, expired ones included: `flexPacks(includeExpired: true)`. */
  flexPacksPerAccount: 1_000,
  /** Cloud-credit lots one account may ever hold, expired ones included. */
  creditLotsPerAccount: 1_000,
  /**
   * Token Flex pools one account may ever hold, expired ones included: enterprise agreements
   * run for years, so this bounds `tokenFlexPools(includeExpired: true)` and the pools one
   * charge's receipt can name.
   */
  tokenFlexPoolsPerAccount: 100,
  /**
   * Token Flex pools of one account whose terms overlap a new pool's term: the import that would
   * make it 11 is refused. An enterprise agreement is renewed, not stacked, so a few overlap at
   * most; this keeps one charge's receipt short (ALLOCATIONS_PER_CHARGE).
   */
  tokenFlexPoolsAtOnce: 10,
  /**
   * Plan enrollments of one account: the 101st is refused. Each one must start after the last
   * and after the account's last usage, so real accounts change plan a handful of times; this
   * bounds `planHistory` (LEGACY plus the enrollments).
   */
  enrollmentsPerAccount: 100,
  /**
   * Alerts of one account at once: RESTRICTED, DEFICIT, LOW_BALANCE and EXPIRING_SOON once each,
   * and per API either API_SUSPENDED or FREE_CAP_NEAR (core/alerts.ts). Both need FREE usage of
   * the API this month, so a price: at most one per priced API.
   */
  alertsPerAccount: 4 + PRICED_APIS,
  /** Labels on one usage event. */
  labelsPerEvent: 20,
  /** Events in one recordUsageBatch. */
  eventsPerBatch: 1_000,
  /** Metered API codes in the price book: publishing a version of a 101st code is refused. */
  pricedApis: PRICED_APIS,
  /** Versions of one API code, retirements and cancelled ones included. */
  versionsPerApi: 100,
  /** API keys, revoked ones included (revoked keys stay for the audit trail). */
  apiKeys: 1_000,
  /** Entries of each reseller facet (locations, languages, services). */
  facetEntries: 50,
  /** Items of one connection page (`first`). */
  pageSize: 100,
  /** Days a DAY usageSummary may span: one row per day and API. */
  summaryDaysByDay: 366,
  /** Days a MONTH usageSummary may span (three years). */
  summaryDaysByMonth: 1_096,
  /** Accounts a price-change preview lists, the most affected first. */
  impactAccounts: 50,
  /** Days previewPriceChange may look back. */
  impactDays: 366,
});

/**
 * One charge is paid by lots, Token Flex pools and packs valid when its usage occurred, then
 * what is still owed goes on PAYG or becomes a deficit (never both: PAYG is never refused). A
 * FREE charge has only its allowance and overrun parts (two lines, no sources). So a receipt
 * (`allocations`) has at most one line per lot, pool and pack valid at once, plus one.
 */
export const ALLOCATIONS_PER_CHARGE = MAXIMA.creditLotsAtOnce + MAXIMA.tokenFlexPoolsAtOnce + MAXIMA.flexPacksAtOnce + 1;
