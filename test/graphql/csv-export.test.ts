/**
 * The usage export as a spreadsheet opens it: a cell a caller chose never starts a formula
 * (OWASP CSV injection), while the amounts and instants the server formats stay numbers.
 */
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
    const rows = text.trimEnd().split("\r\n").slice(1);
    expect(rows).toHaveLength(hostile.length);
    for (const row of rows) {
      // Cells: occurredAt, eventId, apiCode, clientId, quantity, outcome, tokens, credits, flex, deficit.
      const cells = row.match(/("([^"]|"")*"|[^,]*)/g)!.filter((_, i) => i % 2 === 0);
      expect(cells[0]).toMatch(/^2024-05-1\dT09:00:00\.000Z$/);
      expect(cells[1]).toMatch(/^"?'[-=+@]/);
      expect(cells[3]).toMatch(/^"?'[-=+@]/);
      expect(cells.slice(4)).toEqual(["1", "SUCCEEDED", "0.5", "0", "0", "0.5"]);
    }
  });
});
