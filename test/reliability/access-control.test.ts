/**
 * Access control on the real server processes: a revoked key stops at once (on the process that
 * revoked it and on another one sharing the file, over connections already open), partners stay
 * inside their own customers, and no secret is written to the database file, the WAL, the log
 * or any error.
 */
import { randomBytes } from "node:crypto";
import { afterAll, expect, it } from "vitest";
import { hashSecret } from "../../server/services/keys.service.js";
import { expectSoundLedger, newLedgerFile, rawDatabaseBytes } from "./support/ledger-file.js";
import { errorsIn, expectSafeErrors } from "./support/safe-errors.js";
import { bundleServer, type Outcome, post, type ServerProcess, startServer } from "./support/server-process.js";

const cleanups: (() => void)[] = [];
afterAll(() => cleanups.forEach((cleanup) => cleanup()));

const DAY = 86_400_000;

it("refuses a revoked key at once on every process, keeps partners to their own customers, and writes no secret anywhere", async () => {
  const file = newLedgerFile();
  cleanups.push(() => file.remove());
  const bundle = await bundleServer();
  cleanups.push(bundle.dispose);
  // A person-chosen bootstrap secret, the kind most at risk of being logged or stored as typed.
  const bootstrap = `bootstrap-${randomBytes(18).toString("hex")}`;
  const env = { FLEXGATE_BOOTSTRAP_OPERATOR_KEY: bootstrap, LOG_LEVEL: "debug" };
  const secrets: string[] = [bootstrap];
  const servers: ServerProcess[] = [];
  const responses: { outcome: Outcome; showsSecret: boolean }[] = [];

  try {
    servers.push(await startServer({ dbPath: file.path, launcher: bundle.launcher, env }));
    servers.push(await startServer({ dbPath: file.path, launcher: bundle.launcher, env }));
    const [a, b] = servers as [ServerProcess, ServerProcess];
    const call = async (label: string, server: ServerProcess, key: string, query: string, variables?: Record<string, unknown>, showsSecret = false) => {
      const outcome = await post(server.url, key, query, variables);
      responses.push({ outcome, showsSecret });
      expect(outcome.kind, label).toBe("answer");
      return outcome as Extract<Outcome, { kind: "answer" }>;
    };
    const data = async (label: string, server: ServerProcess, key: string, query: string, variables?: Record<string, unknown>, showsSecret = false) => {
      const { status, body } = await call(label, server, key, query, variables, showsSecret);
      expect(body.errors, `${label}: ${JSON.stringify(body.errors)}`).toBeUndefined();
      expect(status).toBe(200);
      return body.data;
    };
    const codes = async (label: string, server: ServerProcess, key: string, query: string, variables?: Record<string, unknown>) => {
      const { status, body } = await call(label, server, key, query, variables);
      return { status, codes: errorsIn(body).map((error) => error.extensions?.code) };
    };

    // Two resellers, a customer each, and keys made over the API with the bootstrap operator key.
    const reseller = async (name: string) =>
      (await data("createReseller", a, bootstrap, `mutation($input: CreateResellerInput!) { createReseller(input: $input) { id } }`, {
        input: { name, tier: "GOLD", flexAgreement: true },
      })).createReseller.id as string;
    const [mine, theirs] = [await reseller("Own Reseller"), await reseller("Other Reseller")];
    const account = async (name: string, resellerId: string) =>
      (await data("createAccount", a, bootstrap, `mutation($input: CreateAccountInput!) { createAccount(input: $input) { id } }`, {
        input: { name, resellerId },
      })).createAccount.id as string;
    const [myCustomer, theirCustomer] = [await account("My customer", mine), await account("Their customer", theirs)];
    const createKey = async (role: string, resellerId?: string) => {
      const created = (await data(
        `createApiKey ${role}`,
        a,
        bootstrap,
        `mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { key { id secretPrefix } secret } }`,
        { input: { name: `${role.toLowerCase()} key`, role, resellerId } },
        true,
      )).createApiKey as { key: { id: string; secretPrefix: string }; secret: string };
      secrets.push(created.secret);
      expect(created.secret.startsWith(created.key.secretPrefix)).toBe(true);
      return created;
    };
    const operator = await createKey("OPERATOR");
    const partner = await createKey("PARTNER", mine);
    const metering = await createKey("METERING");

    // Usage is recorded with the metering key, on both processes, over connections kept open.
    const usage = (n: number) => ({
      input: { eventId: `access-${n}`, accountId: myCustomer, apiCode: "model-derivative/simple-job", quantity: "1", outcome: "SUCCEEDED", occurredAt: new Date(Date.now() - DAY).toISOString() },
    });
    const RECORD = `mutation($input: UsageInput!) { recordUsage(input: $input) { charge { id } } }`;
    await data("usage on A", a, metering.secret, RECORD, usage(1));
    await data("usage on B", b, metering.secret, RECORD, usage(2));

    // Revoked on A: the very next request on A and on B is refused.
    await data("revoke", a, operator.secret, `mutation($id: ID!) { revokeApiKey(id: $id) { revokedAt } }`, { id: metering.key.id });
    expect(await codes("revoked key on A", a, metering.secret, RECORD, usage(3))).toEqual({ status: 401, codes: ["UNAUTHENTICATED"] });
    expect(await codes("revoked key on B", b, metering.secret, RECORD, usage(4))).toEqual({ status: 401, codes: ["UNAUTHENTICATED"] });
    expect(await codes("revoked key, a read", b, metering.secret, `{ viewer { role } }`)).toEqual({ status: 401, codes: ["UNAUTHENTICATED"] });
    expect(await codes("unknown key", b, `fg_${randomBytes(32).toString("base64url")}`, `{ viewer { role } }`)).toEqual({ status: 401, codes: ["UNAUTHENTICATED"] });

    // A partner sees its own customer; someone else's is NOT_FOUND, word for word like a missing one.
    const ACCOUNT = `query($id: ID!) { account(id: $id) { id name } }`;
    expect((await data("partner reads its own", b, partner.secret, ACCOUNT, { id: myCustomer })).account.id).toBe(myCustomer);
    const foreign = await call("partner reads another's", b, partner.secret, ACCOUNT, { id: theirCustomer });
    const missing = await call("partner reads a missing one", b, partner.secret, ACCOUNT, { id: "999999" });
    expect(foreign.body).toEqual(missing.body);
    expect(errorsIn(foreign.body).map((error) => error.extensions?.code)).toEqual(["NOT_FOUND"]);
    expect((await data("partner lists", a, partner.secret, `{ accounts { edges { node { id } } } }`)).accounts.edges).toEqual([{ node: { id: myCustomer } }]);
    expect(
      await codes("partner sells to another's customer", a, partner.secret, `mutation($input: RecordFlexPurchaseInput!) { recordFlexPurchase(input: $input) { id } }`, {
        input: { accountId: theirCustomer, tokens: "100", purchasedAt: new Date(Date.now() - DAY).toISOString(), channel: "RESELLER", orderRef: "poach-1" },
      }),
    ).toEqual({ status: 200, codes: ["NOT_FOUND"] });
    expect(await codes("partner creates an account", a, partner.secret, `mutation { createAccount(input: { name: "x" }) { id } }`)).toEqual({ status: 200, codes: ["FORBIDDEN"] });

    // Keys listed and audited: never a secret.
    await data("apiKeys", b, operator.secret, `{ apiKeys { id name secretPrefix revokedAt } }`);
    await data("auditLog", b, operator.secret, `{ auditLog(first: 100) { edges { node { action before after } } } }`);

    // While the processes run, the file and the WAL hold the hashes and none of the secrets.
    const expectNoSecretIn = (bytes: Buffer, where: string) => {
      for (const secret of secrets) expect(bytes.includes(Buffer.from(secret)), `a secret is in ${where}`).toBe(false);
    };
    const live = rawDatabaseBytes(file.path);
    expect(live.includes(Buffer.from(hashSecret(metering.secret))), "the key's hash is in the file: the search looks where keys are kept").toBe(true);
    expectNoSecretIn(live, "the database files while serving");

    for (const server of servers) {
      server.child.kill("SIGTERM");
      expect(await server.exited).toEqual({ code: 0, signal: null });
    }
    expectNoSecretIn(rawDatabaseBytes(file.path), "the database file after shutdown");
    // The first process registered the bootstrap key (and said so); neither log holds a secret.
    expect(a.output()).toContain("registered the bootstrap operator key");
    for (const server of servers) {
      for (const secret of secrets) expect(server.output().includes(secret), "a secret is in the server log").toBe(false);
    }
    // Every error seen is clean; every answer but the one that creates a key is free of secrets.
    for (const { outcome, showsSecret } of responses) {
      if (outcome.kind === "answer") expectSafeErrors(outcome.body, { secrets: showsSecret ? [] : secrets });
    }
    await file.with((services, db) => expectSoundLedger(services, db));
    servers.length = 0;
  } finally {
    for (const server of servers) server.child.kill("SIGKILL");
  }
}, 60_000);
