/**
 * CSV downloads for operators beside the usage export: the audit log (with the filters of the
 * auditLog query) and the price table in force at a moment (as the priceTable query).
 */
import type { Request, Response } from "express";
import { badInput, FlexgateError } from "../core/errors.js";
import { keyOfRole } from "../core/model.js";
import { formatMicros } from "../core/money.js";
import { formatInstant, parseInstant } from "../core/time.js";
import type { Services } from "../services/index.js";
import { type Locals, sendError } from "./auth.js";
import { csvLine, textCell } from "./csv.js";

/** Every cell of these exports is treated as caller-chosen text: notes, names and snapshots are. */
const textLine = (cells: readonly string[]) => csvLine(cells.map(textCell));

const AUDIT_HEADER = ["at", "actor", "actorRole", "action", "entityType", "entityId", "before", "after"];
const PRICE_HEADER = ["apiCode", "name", "meter", "unitQuantity", "tokensPerUnit", "chargeableOutcomes", "effectiveFrom", "effectiveTo", "status", "note", "publishedBy", "publishedAt"];

/**
 * An optional query parameter, or undefined when absent or empty: a form sends an unused filter
 * as `name=`, and filtering on "" would match nothing. Given twice, refused.
 */
function param(req: Request, name: string): string | undefined {
  const value = (req.query as Record<string, unknown>)[name];
  if (value !== undefined && typeof value !== "string") throw badInput(name, `${name} may be given once`);
  return value === "" ? undefined : value;
}

/**
 * Answers the CSV `write` builds, for an OPERATOR key. It is sent whole once built, so a refusal
 * is the same JSON error as everywhere else, and a failure an error, never a file.
 */
function operatorCsv(filename: string, write: (req: Request) => Promise<string>) {
  return async (req: Request, res: Response<unknown, Locals>) => {
    let csv: string;
    try {
      const role = res.locals.viewer!.key.role;
      if (role !== "OPERATOR") throw new FlexgateError("FORBIDDEN", `${keyOfRole(role)} may not export ${filename}`);
      csv = await write(req);
    } catch (error) {
      if (!(error instanceof FlexgateError)) throw error;
      return sendError(res, error.code === "FORBIDDEN" ? 403 : 400, error.code, error.message, error.field);
    }
    res.setHeader("Content-Type", "text/csv; charset=utf-8");
    res.setHeader("Content-Disposition", `attachment; filename="${filename}"`);
    res.setHeader("Cache-Control", "no-store");
    res.send(csv);
  };
}

/** GET /export/audit.csv?entityType=&actor=&from=&to=: newest first, every matching entry. */
export function auditExportHandler(services: Services) {
  return operatorCsv("audit.csv", async (req) => {
    const from = param(req, "from");
    const to = param(req, "to");
    const filter = {
      entityType: param(req, "entityType"),
      actor: param(req, "actor"),
      from: from === undefined ? undefined : parseInstant(from, "from"),
      to: to === undefined ? undefined : parseInstant(to, "to"),
    };
    // Checks the filter (an empty window is refused) before any row is written.
    await services.audit.list(1, undefined, filter);
    const lines = [textLine(AUDIT_HEADER)];
    for await (const entry of services.audit.all(filter)) {
      lines.push(textLine([formatInstant(entry.at), entry.actor, entry.actorRole, entry.action, entry.entityType, entry.entityId, entry.before ?? "", entry.after ?? ""]));
    }
    return lines.join("");
  });
}

/** GET /export/prices.csv?asOf=: the versions in force at asOf (default now), one per API. */
export function priceTableExportHandler(services: Services) {
  return operatorCsv("prices.csv", async (req) => {
    const asOf = param(req, "asOf");
    const table = await services.prices.priceTable(asOf === undefined ? null : parseInstant(asOf, "asOf"));
    const lines = [textLine(PRICE_HEADER)];
    for (const v of table) {
      lines.push(
        textLine([
          v.apiCode,
          v.name,
          v.meter,
          String(v.unitQuantity),
          formatMicros(v.tokensPerUnitMicros),
          v.chargeableOutcomes.join(" "),
          formatInstant(v.effectiveFrom),
          v.effectiveTo === null ? "" : formatInstant(v.effectiveTo),
          v.status,
          v.note,
          v.publishedBy,
          formatInstant(v.publishedAt),
        ]),
      );
    }
    return lines.join("");
  });
}
