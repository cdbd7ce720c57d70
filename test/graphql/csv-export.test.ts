/**
 * The usage export as a spreadsheet opens it: a cell a caller chose never starts a formula
 * (OWASP CSV injection), while the amounts and instants the server formats stay numbers.
 */
import { request as httpRequest } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { csvLine, textCell, valueCell } from "../../server/http/csv.js";
import { startTestServer, type TestServer } from "../fixtures/server.js";
import { bearer, createWorld, ok, request, usageInput } from "./support.js";

describe("a text cell", () => {
  it.each([
    ["=", "=1+1", "'=1+1"],
    ["+", "+1+cmd|'/C/calc'!A0", "'+1+cmd|'/C/calc'!A0"],
    ["- and a digit", "-2+3+cmd|'/C/calc'!A0", "'-2+3+cmd|'/C/calc'!A0"],
    ["- and a function", "-1+HYPERLINK(\"http://x\")", `"'-1+HYPERLINK(""http://x"")"`],
    ["- alone", "-", "'-"],
    ["@", "@SUM(1)", "'@SUM(1)"],
    ["a tab", "\t=1", "'\t=1"],
    ["a carriage return", "\r=1", `"'\r=1"`],
  ])("beginning with %s is prefixed with a single quote", (_label, value, cell) => {
    expect(textCell(value)).toBe(cell);
  });

  it.each(["evt-1", "1e3", "a=b", "ok-+@"])("%s, which does not begin with a formula character, is kept as it is", (value) => {
    expect(textCell(value)).toBe(value);
  });

  it("is quoted by RFC 4180 when it holds a comma, a quote or a line break", () => {
    expect(csvLine([textCell('a,"b"'), valueCell("-1.5")])).toBe('"a,""b""",-1.5\r\n');
  });
});

describe("GET /export/usage.csv", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server.close());

  it("neutralises every caller-chosen cell that begins with =, +, - or @, and keeps amounts and instants as they are", async () => {
    const world = await createWorld(server, 1);
    const accountId = world.own.accountIds[0]!;
    const hostile = ["-2+3+cmd|'/C/calc'!A0", "-1+HYPERLINK(\"http://evil\")", "=SUM(A1)", "+1", "@SUM(1)"];
    for (const [index, eventId] of hostile.entries()) {
      await ok(server, `mutation($input: UsageInput!) { recordUsage(input: $input) { charge { id } } }`, {
        input: usageInput(accountId, { eventId, clientId: hostile[(index + 1) % hostile.length], occurredAt: `2024-05-1${index}T09:00:00Z` }),
      });
    }
    const { status, text } = await request(server, `/export/usage.csv?accountId=${accountId}&from=2024-05-01&to=2024-06-01`, { headers: bearer(server.operatorKey) });
    expect(status).toBe(200);
    const [header, ...rows] = text.trimEnd().split("\r\n");
    expect(header).toBe("occurredAt,eventId,apiCode,clientId,quantity,outcome,tokens,paidFromCredits,paidFromFlex,deficit,units,paidFromTokenFlex,paidFromPayg,overrunUnits");
    expect(rows).toHaveLength(hostile.length);
    for (const row of rows) {
      // Cells: occurredAt, eventId, apiCode, clientId, quantity, outcome, tokens, credits, flex, deficit,
      // units (empty: LEGACY), Token Flex, PAYG, overrun units.
      const cells = [...`${row},`.matchAll(/("(?:[^"]|"")*"|[^,]*),/g)].map((match) => match[1]);
      expect(cells[0]).toMatch(/^2024-05-1\dT09:00:00\.000Z$/);
      expect(cells[1]).toMatch(/^"?'[-=+@]/);
      expect(cells[3]).toMatch(/^"?'[-=+@]/);
      expect(cells.slice(4)).toEqual(["1", "SUCCEEDED", "0.5", "0", "0", "0.5", "", "0", "0", "0"]);
    }
  });

  it("stops reading rows, and lets go of them, when the client goes away in the middle of a download", async () => {
    const world = await createWorld(server, 1);
    const accountId = world.own.accountIds[0]!;
    // Far more than the socket's buffers hold: the server waits for the client to read on.
    for (let batch = 0; batch < 20; batch++) {
      const inputs = Array.from({ length: 1000 }, (_, n) => usageInput(accountId, { eventId: `gone-${batch}-${n}`, clientId: "c".repeat(100), occurredAt: "2024-05-10T09:00:00Z" }));
      await ok(server, `mutation($inputs: [UsageInput!]!) { recordUsageBatch(inputs: $inputs) { charge { id } } }`, { inputs });
    }
    const insight = server.services.insight;
    const exportUsage = insight.exportUsage.bind(insight);
    let released = false;
    // Watches the real export's rows: they are let go of when their iterator is closed.
    insight.exportUsage = async (...args) => {
      const rows = await exportUsage(...args);
      return (async function* () {
        try {
          yield* rows;
        } finally {
          released = true;
        }
      })();
    };
    try {
      await new Promise<void>((resolve) => {
        const download = httpRequest(`${server.url}/export/usage.csv?accountId=${accountId}&from=2024-05-01&to=2024-06-01`, { agent: false, headers: bearer(server.operatorKey) }, (response) => {
          response.pause();
          setTimeout(() => {
            download.destroy();
            resolve();
          }, 500);
        });
        download.on("error", () => {});
        download.end();
      });
      const deadline = Date.now() + 5_000;
      while (!released && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(released).toBe(true);
    } finally {
      insight.exportUsage = exportUsage;
    }
  });

  it("stops reading rows when the client went away between two rows, before the server next wrote", async () => {
    const world = await createWorld(server, 1);
    const accountId = world.own.accountIds[0]!;
    const inputs = Array.from({ length: 50 }, (_, n) => usageInput(accountId, { eventId: `left-${n}`, occurredAt: "2024-05-10T09:00:00Z" }));
    await ok(server, `mutation($inputs: [UsageInput!]!) { recordUsageBatch(inputs: $inputs) { charge { id } } }`, { inputs });
    const insight = server.services.insight;
    const exportUsage = insight.exportUsage.bind(insight);
    let released = false;
    // Rows come slowly, so the client's leaving is seen by the server between two writes.
    insight.exportUsage = async (...args) => {
      const rows = await exportUsage(...args);
      return (async function* () {
        try {
          for await (const row of rows) {
            yield row;
            await new Promise((resolve) => setTimeout(resolve, 30));
          }
        } finally {
          released = true;
        }
      })();
    };
    try {
      await new Promise<void>((resolve) => {
        const download = httpRequest(`${server.url}/export/usage.csv?accountId=${accountId}&from=2024-05-01&to=2024-06-01`, { agent: false, headers: bearer(server.operatorKey) }, (response) => {
          response.once("data", () => {
            download.destroy();
            resolve();
          });
        });
        download.on("error", () => {});
        download.end();
      });
      const deadline = Date.now() + 5_000;
      while (!released && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(released).toBe(true);
    } finally {
      insight.exportUsage = exportUsage;
    }
  });

  it("gives a tiered charge its whole charged units, and the part PAYG paid", async () => {
    // Test values: a PAID account with PAYG from 2026-01-01; 4 complex jobs at the stored 0.5 tokens a job.
    const { services } = server;
    const operator = { name: "test operator", role: "OPERATOR", keyId: null, resellerId: null } as const;
    server.setNow("2026-01-01T00:00:00Z");
    const account = await services.accounts.create({ name: "Tiered export", country: "JP" }, operator);
    await services.tiered.enrollPlan({ accountId: account.id, tier: "PAID", payg: true }, operator);
    server.setNow("2026-01-10T00:00:00Z");
    await services.rating.recordUsage({
      eventId: "tiered-export-1",
      accountId: account.id,
      apiCode: "model-derivative/complex-job",
      quantityMicros: 4_000_000n,
      outcome: "SUCCEEDED",
      occurredAt: Date.parse("2026-01-05T10:00:00Z"),
    });
    const { status, text } = await request(server, `/export/usage.csv?accountId=${account.id}&from=2026-01-01&to=2026-02-01`, { headers: bearer(server.operatorKey) });
    expect(status).toBe(200);
    const [, row] = text.trimEnd().split("\r\n");
    expect(row!.split(",").slice(4)).toEqual(["4", "SUCCEEDED", "2", "0", "0", "0", "4", "0", "2", "0"]);
  });
});
