/**
 * The console's only way to the server: POST /graphql with the operator key as a Bearer token.
 * Every refusal comes back as an ApiError holding the contract's error codes and fields.
 */
import type { AccountDetail, AccountSummary, ApiKey, AuditEntry, PriceEntry, PriceImpact, Viewer } from "./model.js";
import type { AccountTiers, FreeCap, PaygStatement } from "./tiered-model.js";

export interface ApiProblem {
  readonly message: string;
  /** One of the contract's codes (extensions.code), or NETWORK_ERROR / HTTP_<status> for transport failures. */
  readonly code: string;
  /** The input at fault as the server names it ("input.tokensPerUnit"), when there is one. */
  readonly field: string | null;
}

export class ApiError extends Error {
  override readonly name = "ApiError";
  constructor(readonly problems: readonly ApiProblem[]) {
    super(problems.map((p) => p.message).join("; "));
  }

  get code(): string {
    return this.problems[0]?.code ?? "INTERNAL_SERVER_ERROR";
  }
}

/** Resolved against the page, so the console keeps working when the app is mounted under a prefix. */
const endpoint = () => new URL("../graphql", document.baseURI).href;

export async function graphql<T>(key: string, query: string, variables: Record<string, unknown> = {}): Promise<T> {
  let response: Response;
  try {
    response = await fetch(endpoint(), {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json", authorization: `Bearer ${key}` },
      body: JSON.stringify({ query, variables }),
      credentials: "omit",
      cache: "no-store",
      referrerPolicy: "no-referrer",
    });
  } catch {
    throw new ApiError([{ code: "NETWORK_ERROR", field: null, message: "The server could not be reached. Check the connection and try again." }]);
  }
  type Body = { data?: T | null; errors?: unknown[] } | null;
  let body: Body = null;
  try {
    body = (await response.json()) as Body;
  } catch {
    body = null;
  }
  const errors = Array.isArray(body?.errors) ? body.errors : [];
  if (errors.length > 0) throw new ApiError(errors.map(toProblem));
  if (!response.ok || !body || body.data == null) {
    throw new ApiError([{ code: `HTTP_${response.status}`, field: null, message: `The server answered ${response.status} ${response.statusText}`.trim() }]);
  }
  return body.data;
}

function toProblem(error: unknown): ApiProblem {
  const record = (error ?? {}) as { message?: unknown; extensions?: { code?: unknown; field?: unknown } };
  return {
    message: typeof record.message === "string" ? record.message : "The request was refused.",
    code: typeof record.extensions?.code === "string" ? record.extensions.code : "INTERNAL_SERVER_ERROR",
    field: typeof record.extensions?.field === "string" ? record.extensions.field : null,
  };
}

const PRICE_FIELDS = `id apiCode name meter unitQuantity tokensPerUnit chargeableOutcomes effectiveFrom effectiveTo status note publishedBy publishedAt retired cancelledBy cancelReason`;

/** What the audit log can be narrowed to (the auditLog query's filters). */
export interface AuditFilter {
  entityType: string | null;
  actor: string | null;
  from: string | null;
  to: string | null;
}

export interface PublishPriceInput {
  apiCode: string;
  name?: string;
  meter: string;
  unitQuantity: number;
  tokensPerUnit: string;
  chargeableOutcomes: string[];
  effectiveFrom?: string;
  note: string;
}

export interface PublishFreeCapInput {
  apiCode: string;
  unitsPerMonth: number;
  effectiveFrom?: string;
  note: string;
}

const FREE_CAP_FIELDS = `id apiCode unitsPerMonth effectiveFrom note`;
const PAYG_FIELDS = `month status tokens lines { apiCode units tokens }`;

const KEY_FIELDS = `id name role secretPrefix createdAt createdBy revokedAt reseller { id name }`;

interface Connection<T> {
  edges: Array<{ cursor: string; node: T }>;
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
  totalCount: number;
}

/**
 * Downloads one of the server's CSV exports (they need the key, so a plain link cannot fetch them)
 * and hands it to the browser as a file.
 */
export async function downloadCsv(key: string, path: string, params: Record<string, string | null>, filename: string): Promise<void> {
  const url = new URL(`../export/${path}`, document.baseURI);
  for (const [name, value] of Object.entries(params)) if (value) url.searchParams.set(name, value);
  let response: Response;
  try {
    response = await fetch(url, { headers: { authorization: `Bearer ${key}` }, credentials: "omit", cache: "no-store", referrerPolicy: "no-referrer" });
  } catch {
    throw new ApiError([{ code: "NETWORK_ERROR", field: null, message: "The server could not be reached. Check the connection and try again." }]);
  }
  if (!response.ok) {
    const body = (await response.json().catch(() => null)) as { errors?: unknown[] } | null;
    throw new ApiError(Array.isArray(body?.errors) ? body.errors.map(toProblem) : [{ code: `HTTP_${response.status}`, field: null, message: `The server answered ${response.status}` }]);
  }
  const link = document.createElement("a");
  link.href = URL.createObjectURL(await response.blob());
  link.download = filename;
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 60_000);
}

export const api = {
  viewer: (key: string) => graphql<{ viewer: Viewer }>(key, `query ConsoleViewer { viewer { role name } }`).then((d) => d.viewer),

  priceVersions: (key: string) =>
    graphql<{ priceVersions: PriceEntry[] }>(key, `query ConsolePriceVersions { priceVersions { ${PRICE_FIELDS} } }`).then((d) => d.priceVersions),

  previewPriceChange: (key: string, input: PublishPriceInput, days: number) =>
    graphql<{ previewPriceChange: PriceImpact }>(
      key,
      `mutation ConsolePreviewPrice($input: PublishPriceInput!, $days: Int) {
        previewPriceChange(input: $input, days: $days) {
          days events zeroChargeEvents currentTokens proposedTokens deltaTokens accountCount
          accounts { account { id name status } events zeroChargeEvents currentTokens proposedTokens deltaTokens changePercent depletesAt proposedDepletesAt }
        }
      }`,
      { input, days },
    ).then((d) => d.previewPriceChange),

  publishPrice: (key: string, input: PublishPriceInput) =>
    graphql<{ publishPrice: PriceEntry }>(
      key,
      `mutation ConsolePublishPrice($input: PublishPriceInput!) { publishPrice(input: $input) { ${PRICE_FIELDS} } }`,
      { input },
    ).then((d) => d.publishPrice),

  cancelScheduledPrice: (key: string, id: string, reason: string) =>
    graphql<{ cancelScheduledPrice: PriceEntry }>(
      key,
      `mutation ConsoleCancelPrice($id: ID!, $reason: String!) { cancelScheduledPrice(id: $id, reason: $reason) { ${PRICE_FIELDS} } }`,
      { id, reason },
    ).then((d) => d.cancelScheduledPrice),

  retirePrice: (key: string, apiCode: string, effectiveFrom: string | null, note: string) =>
    graphql<{ retirePrice: PriceEntry }>(
      key,
      `mutation ConsoleRetirePrice($apiCode: String!, $effectiveFrom: DateTime, $note: String!) {
        retirePrice(apiCode: $apiCode, effectiveFrom: $effectiveFrom, note: $note) { ${PRICE_FIELDS} }
      }`,
      { apiCode, effectiveFrom, note },
    ).then((d) => d.retirePrice),

  auditLog: (key: string, first: number, after: string | null, filter: AuditFilter) =>
    graphql<{
      auditLog: {
        edges: Array<{ cursor: string; node: AuditEntry }>;
        pageInfo: { hasNextPage: boolean; endCursor: string | null };
        totalCount: number;
      };
    }>(
      key,
      `query ConsoleAuditLog($first: Int, $after: String, $entityType: String, $actor: String, $from: DateTime, $to: DateTime) {
        auditLog(first: $first, after: $after, entityType: $entityType, actor: $actor, from: $from, to: $to) {
          edges { cursor node { id at actor actorRole action entityType entityId before after } }
          pageInfo { hasNextPage endCursor }
          totalCount
        }
      }`,
      { first, after, ...filter },
    ).then((d) => d.auditLog),

  accounts: (key: string, nameContains: string, after: string | null) =>
    graphql<{ accounts: Connection<AccountSummary> }>(
      key,
      `query ConsoleAccounts($filter: AccountFilter, $after: String) {
        accounts(first: 20, after: $after, filter: $filter) {
          edges { cursor node { id name country status balance { available deficit } alerts { kind } } }
          pageInfo { hasNextPage endCursor }
          totalCount
        }
      }`,
      { filter: nameContains ? { nameContains } : null, after },
    ).then((d) => d.accounts),

  account: (key: string, id: string) =>
    graphql<{ account: AccountDetail | null }>(
      key,
      `query ConsoleAccount($id: ID!) {
        account(id: $id) {
          id name country status balancePolicy reseller { name }
          balance { cloudCredits flexTokens deficit available graceEndsAt }
          forecast { burnRatePerDay depletesAt }
          alerts { kind message tokens at }
          creditLots(includeExpired: true) { id amount remaining purchasedAt expiresAt expired externalRef }
          flexPacks(includeExpired: true) { id tokens remaining purchasedAt expiresAt expired channel orderRef }
          charges(first: 20) {
            edges { node { id eventId apiCode quantity outcome occurredAt tokens reversed reversedAt
              allocations { source amount units creditLot { id } flexPack { id } tokenFlexPool { id } } } }
            totalCount
          }
        }
      }`,
      { id },
    ).then((d) => d.account),

  reverseCharge: (key: string, chargeId: string, reason: string) =>
    graphql<{ reverseCharge: { id: string; tokens: string } }>(
      key,
      `mutation ConsoleReverseCharge($chargeId: ID!, $reason: String!) { reverseCharge(chargeId: $chargeId, reason: $reason) { id tokens } }`,
      { chargeId, reason },
    ).then((d) => d.reverseCharge),

  /** Per API the free cap in force at `asOf` (default now). */
  freeCaps: (key: string, asOf: string | null) =>
    graphql<{ freeCaps: FreeCap[] }>(key, `query ConsoleFreeCaps($asOf: DateTime) { freeCaps(asOf: $asOf) { ${FREE_CAP_FIELDS} } }`, { asOf }).then((d) => d.freeCaps),

  publishFreeCap: (key: string, input: PublishFreeCapInput) =>
    graphql<{ publishFreeCap: FreeCap }>(
      key,
      `mutation ConsolePublishFreeCap($input: PublishFreeCapInput!) { publishFreeCap(input: $input) { ${FREE_CAP_FIELDS} } }`,
      { input },
    ).then((d) => d.publishFreeCap),

  /**
   * The account under the tiered regime, asked apart from the account itself so a server without
   * the tiered fields still shows the rest of the account.
   */
  accountTiers: (key: string, id: string, month: string) =>
    graphql<{ account: AccountTiers | null }>(
      key,
      `query ConsoleAccountTiers($id: ID!, $month: String!) {
        account(id: $id) {
          plan { tier payg effectiveFrom }
          planHistory { tier payg effectiveFrom }
          freeUsage { apiCode capUnits usedUnits overrunUnits suspendedUntil }
          tokenFlexPools(includeExpired: true) { id tokens remaining startsAt endsAt expired externalRef }
          paygStatement(month: $month) { ${PAYG_FIELDS} }
        }
      }`,
      { id, month },
    ).then((d) => d.account),

  paygStatement: (key: string, id: string, month: string) =>
    graphql<{ account: { paygStatement: PaygStatement } | null }>(
      key,
      `query ConsolePaygStatement($id: ID!, $month: String!) { account(id: $id) { paygStatement(month: $month) { ${PAYG_FIELDS} } } }`,
      { id, month },
    ).then((d) => d.account?.paygStatement ?? null),

  apiKeys: (key: string) => graphql<{ apiKeys: ApiKey[] }>(key, `query ConsoleApiKeys { apiKeys { ${KEY_FIELDS} } }`).then((d) => d.apiKeys),

  /** Every reseller, a page of 100 (the most the server gives) at a time, so any can be chosen. */
  resellers: async (key: string) => {
    const all: Array<{ id: string; name: string }> = [];
    for (let after: string | null = null; ; ) {
      const { resellers: page }: { resellers: Connection<{ id: string; name: string }> } = await graphql(
        key,
        `query ConsoleResellers($after: String) { resellers(first: 100, after: $after) { edges { cursor node { id name } } pageInfo { hasNextPage endCursor } totalCount } }`,
        { after },
      );
      all.push(...page.edges.map((e) => e.node));
      if (!page.pageInfo.hasNextPage || !page.pageInfo.endCursor) return all;
      after = page.pageInfo.endCursor;
    }
  },

  createApiKey: (key: string, input: { name: string; role: string; resellerId?: string }) =>
    graphql<{ createApiKey: { key: ApiKey; secret: string } }>(
      key,
      `mutation ConsoleCreateApiKey($input: CreateApiKeyInput!) { createApiKey(input: $input) { secret key { ${KEY_FIELDS} } } }`,
      { input },
    ).then((d) => d.createApiKey),

  revokeApiKey: (key: string, id: string) =>
    graphql<{ revokeApiKey: ApiKey }>(key, `mutation ConsoleRevokeApiKey($id: ID!) { revokeApiKey(id: $id) { ${KEY_FIELDS} } }`, { id }).then((d) => d.revokeApiKey),
};
