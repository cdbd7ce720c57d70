import { createServer, type Server } from "node:http";
import { ApolloServer } from "@apollo/server";
import { ApolloServerPluginCacheControlDisabled } from "@apollo/server/plugin/disabled";
import { ApolloServerPluginDrainHttpServer } from "@apollo/server/plugin/drainHttpServer";
import { expressMiddleware } from "@as-integrations/express5";
import express, { type NextFunction, type Request, type Response } from "express";
import { sql } from "drizzle-orm";
import type { Config } from "./config.js";
import { createContext, type GraphQLContext } from "./graphql/context.js";
import { formatError, GENERIC_MESSAGE } from "./graphql/errors.js";
import { LIMITS, QueryLimitsRule } from "./graphql/limits.js";
import { graphqlSchema } from "./graphql/schema.js";
import { type Locals, requireKey, sendError } from "./http/auth.js";
import { consoleRouter } from "./http/console.js";
import { auditExportHandler, priceTableExportHandler } from "./http/console-exports.js";
import { usageExportHandler } from "./http/export.js";
import { log } from "./log.js";
import type { Clock } from "./services/context.js";
import { createServices, type Services } from "./services/index.js";
import type { Db } from "./store/database.js";

export interface AppOptions {
  readonly config: Pick<Config, "rules"> & Partial<Pick<Config, "consoleIdleMinutes">>;
  readonly db: Db;
  readonly clock?: Clock;
}

export interface App {
  readonly server: Server;
  readonly services: Services;
  /** Stops taking requests, finishes the ones in flight, then stops GraphQL. The database stays open. */
  stop(): Promise<void>;
}

/** Request bodies above this are refused before parsing: a full 1,000-event batch is about 300 kB. */
const BODY_LIMIT = "1mb";

/** Balances and ledgers change with every event: no cache, shared or private, may keep an answer. */
function noStore(_req: Request, res: Response, next: NextFunction): void {
  res.setHeader("Cache-Control", "no-store");
  next();
}

/** Builds the whole application on an HTTP server that is not listening yet. */
export async function createApp({ config, db, clock = Date.now }: AppOptions): Promise<App> {
  const services = createServices({ db, clock, rules: config.rules });
  const app = express();
  const server = createServer(app);
  const apollo = new ApolloServer<GraphQLContext>({
    schema: graphqlSchema(),
    // Integrators discover the API by introspection, production included; every caller has a key.
    introspection: true,
    allowBatchedHttpRequests: false,
    csrfPrevention: true,
    includeStacktraceInErrorResponses: false,
    hideSchemaDetailsFromClientErrors: true,
    parseOptions: { maxTokens: LIMITS.maxTokens },
    validationRules: [QueryLimitsRule],
    formatError,
    // main.ts owns SIGTERM and SIGINT. Apollo's own handler (on outside NODE_ENV=test) stops
    // Apollo and then re-raises the signal, which killed the process with 143 before main.ts
    // could close the database and exit 0.
    stopOnTerminationSignals: false,
    plugins: [
      ApolloServerPluginDrainHttpServer({ httpServer: server }),
      // Cache hints are never used (every answer is private and live: see noStore below), and the
      // plugin's per-field hook cost about a sixth of a portal page and of a recordUsage request.
      ApolloServerPluginCacheControlDisabled(),
    ],
  });
  await apollo.start();

  app.disable("x-powered-by");
  app.set("etag", false);
  app.get("/healthz", (_req, res) => {
    db.get(sql`select 1`);
    res.json({ status: "ok" });
  });
  app.use("/console", consoleRouter({ idleMinutes: config.consoleIdleMinutes }));
  app.use(
    "/graphql",
    requireKey(services),
    noStore,
    express.json({ limit: BODY_LIMIT }),
    expressMiddleware(apollo, {
      context: async ({ res }) => createContext(services, (res.locals as Locals).viewer ?? null),
    }),
  );
  app.get("/export/usage.csv", requireKey(services), usageExportHandler(services));
  app.get("/export/audit.csv", requireKey(services), auditExportHandler(services));
  app.get("/export/prices.csv", requireKey(services), priceTableExportHandler(services));
  app.use((_req: Request, res: Response) => sendError(res, 404, "NOT_FOUND", "no such route"));
  app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const status = (error as { status?: number }).status ?? 500;
    if (status === 413) return sendError(res, 413, "BAD_USER_INPUT", `the request body is larger than ${BODY_LIMIT}`);
    if (status >= 400 && status < 500) return sendError(res, status, "BAD_USER_INPUT", "the request body is not valid JSON");
    log.error("unexpected HTTP error", { error: error instanceof Error ? error.stack : String(error) });
    return sendError(res, 500, "INTERNAL_SERVER_ERROR", GENERIC_MESSAGE);
  });

  return {
    server,
    services,
    stop: () => apollo.stop(),
  };
}
