/**
 * What the operator console reads as a record: the audit log filtered by entity, actor and
 * date, who cancelled a version and why, and CSV exports of the audit log and the price table.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { textCell } from "../../server/http/csv.js";
import { OPERATOR, tokens } from "../fixtures/harness.js";
import { startTestServer, type TestServer } from "../fixtures/server.js";

let server: TestServer;
let versionId = 0;
beforeAll(async () => {
  server = await startTestServer({ now: "2026-01-15T09:00:00Z" });
  const later = { ...OPERATOR, name: "second operator" };
  const version = await server.services.prices.publish(
    { apiCode: "design-automation/revit", meter: "SECOND", unitQuantity: 3600, tokensPerUnitMicros: tokens("2.5"), effectiveFrom: Date.parse("2026-03-01T00:00:00Z"), note: "=HYPERLINK(\"http://x\")" },
    OPERATOR,
  );
  versionId = version.id;
  server.setNow("2026-01-16T09:00:00Z");
  await server.services.prices.cancelScheduled(version.id, "Superseded, by the annual review", later);
});
afterAll(() => server.close());

const csv = (path: string, key = server.operatorKey) => fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${key}` } });

describe("operator records", () => {
  it("filters the audit log by actor and by a [from, to) window", async () => {
    const query = `query ($actor: String, $from: DateTime, $to: DateTime) {
      auditLog(entityType: "PriceEntry", actor: $actor, from: $from, to: $to) { totalCount edges { node { action actor } } }
    }`;
    const byActor = await server.graphql(query, { actor: "second operator" });
    expect(byActor.body.data.auditLog).toEqual({ totalCount: 1, edges: [{ node: { action: "price.cancel", actor: "second operator" } }] });
    const firstDay = await server.graphql(query, { from: "2026-01-15T00:00:00Z", to: "2026-01-16T00:00:00Z" });
    expect(firstDay.body.data.auditLog.edges.map((e: { node: { action: string } }) => e.node.action)).toEqual(["price.publish"]);
    const empty = await server.graphql(query, { from: "2026-01-16T00:00:00Z", to: "2026-01-15T00:00:00Z" });
    expect(empty.body.errors?.[0]?.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "to" });
  });

  it("says who cancelled a version and why", async () => {
    const { body } = await server.graphql(`{ priceHistory(apiCode: "design-automation/revit") { id status cancelledBy cancelReason } }`);
    const rows = body.data.priceHistory as Array<{ id: string; status: string; cancelledBy: string | null; cancelReason: string | null }>;
    expect(rows.find((r) => r.id === String(versionId))).toEqual({ id: String(versionId), status: "CANCELLED", cancelledBy: "second operator", cancelReason: "Superseded, by the annual review" });
    expect(rows.filter((r) => r.status !== "CANCELLED").every((r) => r.cancelledBy === null && r.cancelReason === null)).toBe(true);
  });

  it("exports the audit log as CSV, newest first, with formula cells neutralised", async () => {
    const response = await csv("/export/audit.csv?entityType=PriceEntry");
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/csv/);
    expect(response.headers.get("content-disposition")).toContain("audit.csv");
    const lines = (await response.text()).trimEnd().split("\r\n");
    expect(lines[0]).toBe("at,actor,actorRole,action,entityType,entityId,before,after");
    expect(lines.slice(1).map((l) => l.split(",")[3])).toEqual(["price.cancel", "price.publish"]);
    expect(lines[1]).toMatch(/^2026-01-16T09:00:00(\.000)?Z,second operator,OPERATOR,price\.cancel,PriceEntry,/);
    // The note is inside a JSON snapshot, which starts with "{": no formula can start the cell.
    expect(lines[2]).toContain('""note"":""=HYPERLINK');
    const window = await (await csv("/export/audit.csv?from=2026-01-16T00:00:00Z")).text();
    expect(window.trimEnd().split("\r\n")).toHaveLength(2);
  });

  it("exports the price table in force now or as of a date", async () => {
    const now = (await (await csv("/export/prices.csv")).text()).trimEnd().split("\r\n");
    expect(now[0]).toBe("apiCode,name,meter,unitQuantity,tokensPerUnit,chargeableOutcomes,effectiveFrom,effectiveTo,status,note,publishedBy,publishedAt");
    expect(now.find((l) => l.startsWith("design-automation/revit,"))).toContain(",SECOND,3600,2,SUCCEEDED,");
    const earlier = (await (await csv("/export/prices.csv?asOf=2021-01-01T00:00:00Z")).text()).trimEnd().split("\r\n");
    expect(earlier.length).toBeLessThan(now.length);
    expect(earlier.find((l) => l.startsWith("model-derivative/complex-job,"))).toContain(",JOB,1,1.5,");
  });

  it("refuses exports to other roles, without a key, and with a bad date", async () => {
    for (const path of ["/export/audit.csv", "/export/prices.csv"]) {
      const forbidden = await csv(path, await server.key("INTEGRATOR"));
      expect(forbidden.status).toBe(403);
      expect(((await forbidden.json()) as { errors: Array<{ extensions: { code: string } }> }).errors[0]!.extensions.code).toBe("FORBIDDEN");
      expect((await fetch(`${server.url}${path}`)).status).toBe(401);
    }
    const bad = await csv("/export/prices.csv?asOf=yesterday");
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { errors: Array<{ extensions: unknown }> }).errors[0]!.extensions).toEqual({ code: "BAD_USER_INPUT", field: "asOf" });
  });

  it.each([
    ["a window bound given twice", "from=2030-01-01T00:00:00Z&from=2031-01-01T00:00:00Z", "from"],
    ["an actor given twice", "actor=nobody&actor=nobody-else", "actor"],
  ])("refuses an audit export with %s, naming the parameter", async (_why, query, field) => {
    const refused = await csv(`/export/audit.csv?${query}`);
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { errors: Array<{ extensions: unknown }> }).errors[0]!.extensions).toEqual({ code: "BAD_USER_INPUT", field });
  });

  it("reads an empty parameter as one not given, as a form sends an unused filter", async () => {
    const all = await (await csv("/export/audit.csv")).text();
    const blank = await csv("/export/audit.csv?entityType=&actor=&from=&to=");
    expect(blank.status).toBe(200);
    expect(await blank.text()).toBe(all);
    expect(all.trimEnd().split("\r\n").length).toBeGreaterThan(1);
    const now = await (await csv("/export/prices.csv")).text();
    expect(await (await csv("/export/prices.csv?asOf=")).text()).toBe(now);
  });

  it("answers a failure to read the audit log as an error, not as a file to save", async () => {
    await server.sql.run("alter table audit_log rename to audit_log_away");
    try {
      const failed = await csv("/export/audit.csv");
      expect([failed.status, failed.headers.get("content-disposition"), failed.headers.get("content-type")]).toEqual([500, null, expect.stringMatching(/^application\/json/)]);
    } finally {
      await server.sql.run("alter table audit_log_away rename to audit_log");
    }
  });

  it.each([
    ["=1+1", "'=1+1"],
    ["+33 1 23", "'+33 1 23"],
    ["-2", "'-2"],
    ["@SUM(A1)", "'@SUM(A1)"],
    ["\tx", "'\tx"],
    ["\rx", "\"'\rx\""],
    ['say "hi", then', '"say ""hi"", then"'],
    ["plain", "plain"],
  ])("writes the cell %j as %j", (value, expected) => {
    expect(textCell(value)).toBe(expected);
  });
});
