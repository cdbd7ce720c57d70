/**
 * POST /v1/events: usage events as a CloudEvents batch (`application/cloudevents-batch+json`, the
 * batched content mode of the CloudEvents HTTP binding, which metering pipelines such as OpenMeter's
 * already speak), with exactly recordUsageBatch's semantics: the same keys and roles, at most
 * MAX_BATCH_SIZE events, idempotent per event id (an event sent here and through GraphQL is the
 * same event), one transaction, each event answered alone, in order, after its commit.
 *
 * An event maps onto UsageInput: `id` is the eventId, `subject` the account id, `time` when it
 * occurred, and `data` holds apiCode, quantity, outcome, clientId and labels as UsageInput has
 * them. Refusals name the event's own fields: "events.3.data.quantity", "events.3.subject".
 * Without GraphQL in the way, a batch skips parsing a document, coercing a thousand input
 * objects and building a result tree.
 */
import express, { type NextFunction, type Request, type Response } from "express";
import { badInput, FlexgateError } from "../core/errors.js";
import { formatMicros, parseMicros } from "../core/money.js";
import { keyOfRole, type Outcome } from "../core/model.js";
import { parseId } from "../core/text.js";
import { parseInstant } from "../core/time.js";
import { rolesOfField } from "../graphql/roles.js";
import { graphqlSchema } from "../graphql/schema.js";
import { assertBatchSize, assertLabelCount, type BatchItemResult, labelsFromList, type UsageEvent } from "../services/rating.service.js";
import type { Services } from "../services/index.js";
import { type Locals, refuseUnauthenticated, sendError, viewerAfterBody } from "./auth.js";
import { BODY_LIMIT_BYTES } from "./body-limit.js";

export const CLOUDEVENTS_BATCH = "application/cloudevents-batch+json";
/** The CloudEvents `type` of a usage event. */
export const USAGE_EVENT_TYPE = "com.autodesk.aps.usage";

/** What each event of the answer says: recordUsageBatch's RecordUsageResult, as JSON. */
export interface IngestAnswer {
  readonly eventId: string;
  readonly replayed: boolean | null;
  readonly charge: { readonly id: string; readonly tokens: string; readonly units: number | null } | null;
  readonly error: { readonly code: string; readonly message: string; readonly field: string | null } | null;
}

/** Where rating's field names (UsageInput's) are in a CloudEvent. */
const EVENT_FIELDS: Readonly<Record<string, string>> = {
  eventId: "id",
  accountId: "subject",
  occurredAt: "time",
  apiCode: "data.apiCode",
  quantity: "data.quantity",
  outcome: "data.outcome",
  clientId: "data.clientId",
  labels: "data.labels",
};

const INGEST_ROLES = rolesOfField(graphqlSchema(), "Mutation", "recordUsageBatch");

/** The route's handlers: the body is read only for a key that may send usage. */
export function ingestHandlers(services: Services) {
  const mayIngest = (_req: Request, res: Response<unknown, Locals>, next: NextFunction) => {
    const role = res.locals.viewer!.key.role;
    if (!INGEST_ROLES.includes(role)) return sendError(res, 403, "FORBIDDEN", `${keyOfRole(role)} may not send usage`);
    next();
  };
  const ingest = async (req: Request, res: Response) => {
    if (!req.is(CLOUDEVENTS_BATCH)) return sendError(res, 415, "BAD_USER_INPUT", `send the events as ${CLOUDEVENTS_BATCH}`);
    // The key once more, now that the body is in: it may have been revoked while the body arrived.
    if (!(await viewerAfterBody(services, req))) return refuseUnauthenticated(res);
    const events: unknown = req.body;
    try {
      if (!Array.isArray(events)) throw badInput("events", "the body must be a JSON array of CloudEvents");
      assertBatchSize(events.length, "events");
    } catch (error) {
      if (!(error instanceof FlexgateError)) throw error;
      return sendError(res, 400, error.code, error.message, error.field);
    }
    // An event that cannot even be read fails alone, as a malformed batch item does.
    res.json((await services.usageBatcher.recordBatch(events, "events", usageEventOf, idOf)).map(answerOf));
  };
  return [mayIngest, express.json({ limit: BODY_LIMIT_BYTES, type: CLOUDEVENTS_BATCH }), ingest];
}

function answerOf(result: BatchItemResult): IngestAnswer {
  if (!result.error) {
    const { charge } = result;
    return {
      eventId: result.eventId,
      replayed: result.replayed,
      charge: { id: String(charge.id), tokens: formatMicros(charge.tokensMicros), units: charge.units === null ? null : Number(charge.units) },
      error: null,
    };
  }
  const { code, message, field } = result.error;
  const named = field === undefined ? null : eventField(field);
  return { eventId: result.eventId, replayed: null, charge: null, error: { code, message: named && field ? message.split(field).join(named) : message, field: named } };
}

/** "events.3.quantity" as the CloudEvent names it: "events.3.data.quantity". */
function eventField(field: string): string {
  const match = /^(events\.\d+)\.([A-Za-z]+)(.*)$/.exec(field);
  if (!match) return field;
  const [, event, name, rest] = match;
  return `${event}.${EVENT_FIELDS[name!] ?? name}${rest}`;
}

const idOf = (event: unknown): string => (isObject(event) && typeof event.id === "string" ? event.id : "");

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The event as the rating service takes it; rating checks the values (ranges, lengths, dates). */
function usageEventOf(event: unknown, field: string): UsageEvent {
  if (!isObject(event)) throw badInput(field, `${field} must be a CloudEvent object`);
  if (event.specversion !== "1.0") throw badInput(`${field}.specversion`, `${field}.specversion must be "1.0"`);
  if (event.type !== USAGE_EVENT_TYPE) throw badInput(`${field}.type`, `${field}.type must be "${USAGE_EVENT_TYPE}"`);
  if (typeof event.source !== "string" || event.source === "") throw badInput(`${field}.source`, `${field}.source must name where the event comes from`);
  const data = event.data;
  if (!isObject(data)) throw badInput(`${field}.data`, `${field}.data must be an object with apiCode, quantity and outcome`);
  return {
    eventId: text(event.id, `${field}.id`),
    accountId: parseId(text(event.subject, `${field}.subject`), `${field}.subject`),
    apiCode: text(data.apiCode, `${field}.data.apiCode`),
    quantityMicros: parseMicros(text(data.quantity, `${field}.data.quantity`), `${field}.data.quantity`),
    outcome: text(data.outcome, `${field}.data.outcome`) as Outcome,
    occurredAt: parseInstant(text(event.time, `${field}.time`), `${field}.time`),
    clientId: data.clientId == null ? null : text(data.clientId, `${field}.data.clientId`),
    labels: labelsOf(data.labels, `${field}.data.labels`),
  };
}

function text(value: unknown, field: string): string {
  if (typeof value !== "string") throw badInput(field, `${field} must be a string`);
  return value;
}

/** UsageInput's labels: a list of { key, value }, each key once. */
function labelsOf(value: unknown, field: string): Record<string, string> {
  if (value == null) return labelsFromList([], field);
  if (!Array.isArray(value)) throw badInput(field, `${field} must be a list of { key, value }`);
  // Counted before any label is read: GraphQL refuses a long list before coercing it, too.
  assertLabelCount(value.length, field);
  const isLabel = (label: unknown): label is { key: string; value: string } => isObject(label) && typeof label.key === "string" && typeof label.value === "string";
  if (!value.every(isLabel)) throw badInput(field, `${field} must be a list of { key, value } strings`);
  return labelsFromList(value, field);
}
