/** How the console shapes free caps from freeCaps(asOf) and the audit log's record of each publication. */
import { describe, expect, it } from "vitest";
import type { AuditEntry } from "../../console/src/model.js";
import { capFromAudit, capLabel, groupCaps, planLabel, type PublishedCap } from "../../console/src/tiered-model.js";

const NOW = Date.parse("2026-01-15T09:00:00Z");

function publication(id: string, apiCode: string, unitsPerMonth: number, effectiveFrom: string): AuditEntry {
  return {
    id: `a${id}`,
    at: "2025-12-20T00:00:00.000Z",
    actor: "ops",
    actorRole: "OPERATOR",
    action: "freeCap.publish",
    entityType: "FreeCap",
    entityId: id,
    before: null,
    after: JSON.stringify({ id: Number(id), apiCode, unitsPerMonth, effectiveFrom: Date.parse(effectiveFrom), note: `cap ${id}` }),
  };
}

describe("free caps as the console shows them", () => {
  it("reads a published cap back from its audit entry, and nothing from another entry or a damaged snapshot", () => {
    expect(capFromAudit(publication("7", "design-automation/revit", 3, "2026-01-01T00:00:00Z"))).toEqual({
      id: "7",
      apiCode: "design-automation/revit",
      unitsPerMonth: 3,
      effectiveFrom: "2026-01-01T00:00:00.000Z",
      note: "cap 7",
      publishedBy: "ops",
      publishedAt: "2025-12-20T00:00:00.000Z",
    });
    expect(capFromAudit({ ...publication("7", "x", 3, "2026-01-01T00:00:00Z"), action: "price.publish" })).toBeNull();
    expect(capFromAudit({ ...publication("7", "x", 3, "2026-01-01T00:00:00Z"), after: "{not json" })).toBeNull();
    expect(capFromAudit({ ...publication("7", "x", 3, "2026-01-01T00:00:00Z"), after: JSON.stringify({ apiCode: "x" }) })).toBeNull();
  });

  it("marks the latest started cap IN_FORCE, earlier ones SUPERSEDED and later ones SCHEDULED, newest first", () => {
    const published = [
      publication("1", "a", 3, "2025-12-20T00:00:00Z"),
      publication("2", "a", 4, "2026-01-01T00:00:00Z"),
      publication("3", "a", 5, "2026-02-01T00:00:00Z"),
      publication("4", "b", 1, "2026-03-01T00:00:00Z"),
    ].map((entry) => capFromAudit(entry)!) as PublishedCap[];
    const inForce = [published[1]!];
    const groups = groupCaps(inForce, published, NOW, ["c", "a"]);
    expect(groups.map((g) => [g.apiCode, g.current?.unitsPerMonth ?? null, g.history.map((c) => `${c.id} ${c.status}`)])).toEqual([
      ["a", 4, ["3 SCHEDULED", "2 IN_FORCE", "1 SUPERSEDED"]],
      ["b", null, ["4 SCHEDULED"]],
      ["c", null, []],
    ]);
  });

  it("says caps and plans in the console's words", () => {
    expect([capLabel(0), capLabel(1), capLabel(3)]).toEqual(["0 units a month (no free use)", "1 unit a month", "3 units a month"]);
    expect(planLabel({ tier: "LEGACY", payg: false, effectiveFrom: null })).toBe("LEGACY (not enrolled)");
    expect(planLabel({ tier: "PAID", payg: true, effectiveFrom: "2026-01-01T00:00:00Z" })).toBe("PAID with PAYG");
    expect(planLabel({ tier: "PAID", payg: false, effectiveFrom: "2026-01-01T00:00:00Z" })).toBe("PAID, prepay only");
  });
});
