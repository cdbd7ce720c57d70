import type { Request, Response } from "express";
import { FlexgateError } from "../core/errors.js";
import { formatMicros } from "../core/money.js";
import { keyOfRole } from "../core/model.js";
import { parseMonth } from "../core/month.js";
import { parseId } from "../core/text.js";
import { formatInstant, parseInstant } from "../core/time.js";
import { AccountAccess } from "../graphql/access.js";
import { rolesOfField } from "../graphql/roles.js";
import { graphqlSchema } from "../graphql/schema.js";
import { log } from "../log.js";
import type { Services } from "../services/index.js";
import { type Locals, sendError } from "./auth.js";
import { csvLine, textCell, valueCell } from "./csv.js";

/** The export shows an account's charges: the roles that may read an account may export it. */
/** Answers a refusal met before the first line with its status, code and field; anything else goes on up. */
function refuse(res: Response, error: unknown): void {
  if (!(error instanceof FlexgateError)) throw error;
  const status = { FORBIDDEN: 403, NOT_FOUND: 404 }[error.code as string] ?? 400;
  sendError(res, status, error.code, error.message, error.field);
}

const EXPORT_ROLES = rolesOfField(graphqlSchema(), "Query", "account");

// The columns since the tiered regime come last, so a reader of the earlier columns by position
// reads the same cells. A row's tokens = paidFromCredits + paidFromFlex + deficit
// + paidFromTokenFlex + paidFromPayg.
const HEADER = [
  "occurredAt", "eventId", "apiCode", "clientId", "quantity", "outcome", "tokens", "paidFromCredits", "paidFromFlex", "deficit", "units",
  "paidFromTokenFlex", "paidFromPayg", "overrunUnits",
];

/**
 * GET /export/usage.csv?accountId=…&from=…&to=…: one row per charge, oldest first, streamed row
 * by row from the database, with the same keys and partner scoping as GraphQL.
 */
export function usageExportHandler(services: Services) {
  return async (req: Request, res: Response<unknown, Locals>) => {
    const viewer = res.locals.viewer!;
    let rows;
    let next;
    try {
      if (!EXPORT_ROLES.includes(viewer.key.role)) throw new FlexgateError("FORBIDDEN", `${keyOfRole(viewer.key.role)} may not export usage`);
      const query = req.query as Record<string, unknown>;
      const accountId = parseId(String(query.accountId ?? ""), "accountId");
      const from = parseInstant(query.from, "from");
      const to = parseInstant(query.to, "to");
      if (from >= to) throw new FlexgateError("BAD_USER_INPUT", "from must be before to", "to");
      const account = new AccountAccess(viewer).visibleOrThrow(await services.accounts.find(accountId), "accountId");
      rows = await services.insight.exportUsage(account.id, from, to);
      // The rows are read lazily; reading the first one before answering lets a failure that
      // happens before any row become a clean 500, not a 200 whose connection is then cut.
      next = await rows.next();
    } catch (error) {
      return refuse(res, error);
    }
    res.setHeader("Content-Type", "text/csv; charset=utf-8");
    res.setHeader("Content-Disposition", 'attachment; filename="usage.csv"');
    res.setHeader("Cache-Control", "no-store");
    res.write(csvLine(HEADER.map(textCell)));
    try {
      for (; !next.done; next = await rows.next()) {
        const row = next.value;
        const line = csvLine([
          valueCell(formatInstant(row.occurredAt)),
          textCell(row.eventId),
          textCell(row.apiCode),
          textCell(row.clientId ?? ""),
          valueCell(formatMicros(row.quantityMicros)),
          valueCell(row.outcome),
          valueCell(formatMicros(row.tokensMicros)),
          valueCell(formatMicros(row.creditsMicros)),
          valueCell(formatMicros(row.flexMicros)),
          valueCell(formatMicros(row.deficitMicros)),
          // Whole charged units of a FREE or PAID charge; empty for a LEGACY one, which has none.
          valueCell(row.units === null ? "" : row.units.toString()),
          valueCell(formatMicros(row.tokenFlexMicros)),
          valueCell(formatMicros(row.paygMicros)),
          valueCell(row.overrunUnits.toString()),
        ]);
        // Respect back-pressure so a slow client never makes a year of rows pile up in memory.
        // A client gone meanwhile never drains: one gone before this write has already closed
        // (write answers false and no close is to come), one gone during the wait closes it.
        if (!res.write(line) && !res.destroyed) await drainedOrClosed(res);
        if (res.destroyed) {
          await rows.return?.();
          return;
        }
      }
      res.end();
    } catch (error) {
      log.error("usage export failed midway", { error: error instanceof Error ? error.stack : String(error) });
      res.destroy();
    }
  };
}

function drainedOrClosed(res: Response): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.on("drain", done);
    res.on("close", done);
  });
}

const PAYG_HEADER = ["month", "status", "apiCode", "units", "tokens"];

/**
 * GET /export/payg.csv?accountId=…&month=YYYY-MM: the lines of the account's PAYG statement of
 * that month, one row per API, header row first; the keys, partner scoping and refusals of the
 * usage export. A statement has at most one line per priced API, so it is written at once.
 */
export function paygExportHandler(services: Services) {
  return async (req: Request, res: Response<unknown, Locals>) => {
    const viewer = res.locals.viewer!;
    let statement;
    try {
      if (!EXPORT_ROLES.includes(viewer.key.role)) throw new FlexgateError("FORBIDDEN", `${keyOfRole(viewer.key.role)} may not export PAYG statements`);
      const query = req.query as Record<string, unknown>;
      const accountId = parseId(String(query.accountId ?? ""), "accountId");
      const month = parseMonth(query.month, "month");
      const account = new AccountAccess(viewer).visibleOrThrow(await services.accounts.find(accountId), "accountId");
      statement = await services.tiered.paygStatement(account.id, month);
    } catch (error) {
      return refuse(res, error);
    }
    res.setHeader("Content-Type", "text/csv; charset=utf-8");
    res.setHeader("Content-Disposition", `attachment; filename="payg-${statement.month}.csv"`);
    res.setHeader("Cache-Control", "no-store");
    const lines = statement.lines.map((line) =>
      csvLine([valueCell(statement.month), valueCell(statement.status), textCell(line.apiCode), valueCell(String(line.units)), valueCell(formatMicros(line.tokensMicros))]),
    );
    res.end(csvLine(PAYG_HEADER.map(textCell)) + lines.join(""));
  };
}
