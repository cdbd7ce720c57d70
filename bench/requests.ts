/** The requests the benchmarks send: usage events, batches of them, and the portal page. */
import { randomUUID } from "node:crypto";
import { PORTAL_QUERY } from "./baselines.js";
import type { GenerateSummary } from "./generate.js";

export const BATCH_SIZE = 500;

const RECORD = "mutation Record($input: UsageInput!) { recordUsage(input: $input) { replayed charge { id tokens } } }";
const BATCH = "mutation Batch($inputs: [UsageInput!]!) { recordUsageBatch(inputs: $inputs) { eventId replayed error { code } charge { id tokens } } }";
export const TYPENAME = JSON.stringify({ query: "{ __typename }" });
export const PORTAL = JSON.stringify({ query: PORTAL_QUERY });

/** Premium APIs in force today, with typical quantities in their meter units. */
const USAGE_MIX: readonly (readonly [string, string])[] = [
  ["model-derivative/simple-job", "1"],
  ["model-derivative/complex-job", "1"],
  ["design-automation/autocad", "125"],
  ["design-automation/revit", "300.5"],
  ["flow-graph-engine/processing", "1800"],
  ["reality-capture/photoscene", "120"],
];

function usageInput(accounts: GenerateSummary) {
  const [apiCode, quantity] = USAGE_MIX[Math.floor(Math.random() * USAGE_MIX.length)]!;
  const span = accounts.lastAccountId - accounts.firstAccountId + 1;
  return {
    // Random ids, as APS job ids are: the worst case for the unique index.
    eventId: randomUUID(),
    accountId: String(accounts.firstAccountId + Math.floor(Math.random() * span)),
    apiCode,
    quantity,
    outcome: "SUCCEEDED",
    occurredAt: new Date().toISOString(),
    clientId: "bench-client",
  };
}

export const recordBody = (accounts: GenerateSummary) => () => JSON.stringify({ query: RECORD, variables: { input: usageInput(accounts) } });
export const batchBody = (accounts: GenerateSummary) => () =>
  JSON.stringify({ query: BATCH, variables: { inputs: Array.from({ length: BATCH_SIZE }, () => usageInput(accounts)) } });
export const batchAccepted = (body: string) => !body.includes('"errors"') && !body.includes('"code"');

/** The same events as CloudEvents, for POST /v1/events. */
export const cloudEventsBody = (accounts: GenerateSummary) => () =>
  JSON.stringify(
    Array.from({ length: BATCH_SIZE }, () => {
      const { eventId, accountId, occurredAt, ...data } = usageInput(accounts);
      return { specversion: "1.0", id: eventId, source: "//bench", type: "com.autodesk.aps.usage", subject: accountId, time: occurredAt, data };
    }),
  );
export const cloudEventsAccepted = batchAccepted;
