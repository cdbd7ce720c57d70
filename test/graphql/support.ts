/**
 * Helpers shared by the GraphQL tests: raw HTTP for what the fixture's JSON POST cannot send,
 * the closed error-code set, and a small world of two resellers with their customers.
 */
import { request as httpRequest } from "node:http";
import { expect } from "vitest";
import { ERROR_CODES } from "../../server/core/errors.js";
import { OPERATOR } from "../fixtures/harness.js";
import type { TestServer } from "../fixtures/server.js";

export const CLOSED_CODES: readonly string[] = ERROR_CODES;

export type Caller = "OPERATOR" | "PARTNER" | "METERING" | "INTEGRATOR" | "no key" | "revoked key";
export const CALLERS: readonly Caller[] = ["OPERATOR", "PARTNER", "METERING", "INTEGRATOR", "no key", "revoked key"];

/** Any request to the server, answered as status, headers and raw text. */
export async function request(server: TestServer, path: string, init: RequestInit = {}) {
  const response = await fetch(`${server.url}${path}`, init);
  return { status: response.status, headers: response.headers, text: await response.text() };
}

export const bearer = (secret: string) => ({ authorization: `Bearer ${secret}` });

/** The codes of a GraphQL answer's errors, asserting each belongs to the closed set of api.md. */
export function errorCodes(body: { errors?: { extensions?: { code?: string } }[] }): string[] {
  const codes = (body.errors ?? []).map((error) => String(error.extensions?.code));
  for (const code of codes) expect(CLOSED_CODES).toContain(code);
  return codes;
}

/** Runs an operation that must succeed and returns its data. */
export async function ok<T = any>(server: TestServer, query: string, variables?: Record<string, unknown>, key?: string): Promise<T> {
  const { status, body } = await server.graphql<T>(query, variables, key);
  expect(body.errors, JSON.stringify(body.errors)).toBeUndefined();
  expect(status).toBe(200);
  return body.data as T;
}

export interface World {
  /** Two resellers, both with a signed Flex agreement: the partner's own and another. */
  readonly own: { resellerId: string; accountIds: string[] };
  readonly other: { resellerId: string; accountIds: string[] };
  readonly keys: Record<Exclude<Caller, "no key">, string | null>;
}

/** Creates the world through the API itself, as an operator would. */
export async function createWorld(server: TestServer, accountsPerReseller = 2): Promise<World> {
  const reseller = async (name: string) =>
    (await ok(server, `mutation($input: CreateResellerInput!) { createReseller(input: $input) { id } }`, {
      input: { name, tier: "PLATINUM", flexAgreement: true, locations: ["JP"], languages: ["Japanese"], services: ["Flex"] },
    })).createReseller.id as string;
  const account = async (name: string, resellerId: string) =>
    (await ok(server, `mutation($input: CreateAccountInput!) { createAccount(input: $input) { id } }`, { input: { name, country: "JP", resellerId } }))
      .createAccount.id as string;
  const ownId = await reseller("Own Reseller KK");
  const otherId = await reseller("Other Reseller KK");
  const ownAccounts: string[] = [];
  const otherAccounts: string[] = [];
  for (let i = 0; i < accountsPerReseller; i++) {
    ownAccounts.push(await account(`Own customer ${i}`, ownId));
    otherAccounts.push(await account(`Other customer ${i}`, otherId));
  }
  const revoked = await server.services.keys.create({ name: "revoked", role: "OPERATOR", resellerId: null }, OPERATOR);
  await ok(server, `mutation($id: ID!) { revokeApiKey(id: $id) { id } }`, { id: String(revoked.key.id) });
  return {
    own: { resellerId: ownId, accountIds: ownAccounts },
    other: { resellerId: otherId, accountIds: otherAccounts },
    keys: {
      OPERATOR: server.operatorKey,
      PARTNER: await server.key("PARTNER", Number(ownId)),
      METERING: await server.key("METERING"),
      INTEGRATOR: await server.key("INTEGRATOR"),
      "revoked key": revoked.secret,
    },
  };
}

export const keyOf = (world: World, caller: Caller): string | null => (caller === "no key" ? null : world.keys[caller]);

let sequence = 0;
/** A reference no other test has used (event ids, order refs, external refs). */
export const unique = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${++sequence}`;

/** A usage event input in the shape of the API. */
export function usageInput(accountId: string, overrides: Record<string, unknown> = {}) {
  return {
    eventId: unique("event"),
    accountId,
    apiCode: "model-derivative/complex-job",
    quantity: "1",
    outcome: "SUCCEEDED",
    occurredAt: "2024-05-31T12:00:00Z",
    ...overrides,
  };
}

/**
 * One POST to /graphql on a connection of its own (no keep-alive): a pooled connection that the
 * server closes as idle just when a probe reuses it would fail the probe, not measure the loop.
 */
export function postAlone(url: string, key: string, body: unknown): Promise<string> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(`${url}/graphql`, { method: "POST", agent: false, headers: { "content-type": "application/json", authorization: `Bearer ${key}` } }, (response) => {
      let text = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => (text += chunk));
      response.on("end", () => resolve(text));
    });
    request.on("error", reject);
    request.end(JSON.stringify(body));
  });
}

/**
 * A request with the CPU time this process spent on it (server and client share the process).
 * CPU time rather than wall time: other processes on a loaded machine do not count in it.
 */
export async function timed(server: TestServer, query: string, variables?: Record<string, unknown>, key?: string) {
  const started = process.cpuUsage();
  const response = await server.graphql(query, variables, key);
  const spent = process.cpuUsage(started);
  return { ...response, ms: (spent.user + spent.system) / 1000 };
}

/** The least CPU time of five trivial requests: what any request costs before its own work. */
export async function trivialRequestMs(server: TestServer, key?: string): Promise<number> {
  const spent: number[] = [];
  for (let i = 0; i < 5; i++) spent.push((await timed(server, `query Trivial${i} { __typename }`, undefined, key)).ms);
  return Math.min(...spent);
}
