import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { ApolloServer } from "@apollo/server";
import { ApolloServerPluginCacheControlDisabled } from "@apollo/server/plugin/disabled";
import { ApolloServerPluginDrainHttpServer } from "@apollo/server/plugin/drainHttpServer";
import { expressMiddleware } from "@as-integrations/express5";
import express, { type NextFunction, type Request, type Response } from "express";
import type { Config } from "./config.js";
import { createContext, type GraphQLContext } from "./graphql/context.js";
import { formatError, GENERIC_MESSAGE } from "./graphql/errors.js";
import { jitGateway } from "./graphql/executor.js";
import { LIMITS, queryCostPlugin, queryShapeRules } from "./graphql/limits.js";
import { operationCheckPlugin } from "./graphql/operation-check.js";
import { roleCheckPlugin } from "./graphql/roles.js";
import { graphqlSchema } from "./graphql/schema.js";
import { requireKey, sendError, viewerAtOperationStart } from "./http/auth.js";
import { consoleRouter } from "./http/console.js";
import { auditExportHandler, priceTableExportHandler } from "./http/console-exports.js";
import { paygExportHandler, usageExportHandler } from "./http/export.js";
import { ingestHandlers } from "./http/ingest.js";
import { BODY_LIMIT_BYTES, BODY_TOO_LARGE, NOT_JSON } from "./http/body-limit.js";
import { graphqlPost, isPlainGraphqlPost } from "./http/graphql-post.js";
import { log } from "./log.js";
import type { Clock } from "./services/context.js";
import { createServices, type Services } from "./services/index.js";
import type { Store } from "./store/port.js";

export interface AppOptions {
  readonly config: Pick<Config, "rules"> & Partial<Pick<Config, "consoleIdleMinutes">>;
  readonly store: Store;
  readonly clock?: Clock;
  /** How long a client may take to send a whole request, headers and body (default 30 s). */
  readonly requestTimeoutMs?: number;
}

export interface App {
  readonly server: Server;
  readonly services: Services;
  /** Stops taking requests, finishes the ones in flight, then stops GraphQL. The store stays open. */
  stop(): Promise<void>;
}

/**
 * A request must arrive whole within this time: the body limit takes seconds even on a slow
 * link, and a request that trickles in holds a connection and everything it asked for. Node
 * checks its connections at an interval, so the cut comes up to a quarter of it later.
 */
const REQUEST_TIMEOUT_MS = 30_000;
const HEADERS_TIMEOUT_MS = 10_000;

/** An HTTP server with the request limits above; its request handler is added once the app is built. */
function httpServer(requestTimeout: number): Server {
  return createServer({
    requestTimeout,
    headersTimeout: Math.min(HEADERS_TIMEOUT_MS, requestTimeout),
    connectionsCheckingInterval: Math.max(100, Math.min(1_000, requestTimeout / 4)),
  });
}

/** Balances and ledgers change with every event: no cache, shared or private, may keep an answer. */
function noStore(_req: Request, res: Response, next: NextFunction): void {
  res.setHeader("Cache-Control", "no-store");
  next();
}

/** A failure no refusal explains: logged whole, answered with the generic message. */
function failUnexpectedly(res: ServerResponse, error: unknown): void {
  log.error("unexpected HTTP error", { error: error instanceof Error ? error.stack : String(error) });
  if (!res.headersSent) sendError(res, 500, "INTERNAL_SERVER_ERROR", GENERIC_MESSAGE);
}

/** Builds the whole application on an HTTP server that is not listening yet. */
export async function createApp({ config, store, clock = Date.now, requestTimeoutMs = REQUEST_TIMEOUT_MS }: AppOptions): Promise<App> {
  const services = createServices({ store, clock, rules: config.rules });
  const app = express();
  const server = httpServer(requestTimeoutMs);
  const apollo = new ApolloServer<GraphQLContext>({
    // The schema, executed by graphql-jit for queries (graphql/executor.ts) through Apollo's
    // documented hook for an executor of one's own.
    gateway: jitGateway(graphqlSchema()),
    // Integrators discover the API by introspection, production included; every caller has a key.
    introspection: true,
    allowBatchedHttpRequests: false,
    csrfPrevention: true,
    includeStacktraceInErrorResponses: false,
    hideSchemaDetailsFromClientErrors: true,
    parseOptions: { maxTokens: LIMITS.maxTokens },
    // Apollo runs the validation rules only once a document passes its recursive-selection limit.
    maxRecursiveSelections: LIMITS.maxSelections,
    validationRules: queryShapeRules,
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
      // Their didResolveOperation hooks run at once (Apollo's Promise.all), each refusing before its
      // first await: of several refusals, the first in this order is the one answered.
      roleCheckPlugin,
      operationCheckPlugin,
      queryCostPlugin,
    ],
  });
  await apollo.start();

  app.disable("x-powered-by");
  app.set("etag", false);
  app.get("/healthz", async (_req, res) => {
    await store.ping();
    res.json({ status: "ok" });
  });
  app.use("/console", consoleRouter({ idleMinutes: config.consoleIdleMinutes }));
  app.use(
    "/graphql",
    requireKey(services),
    noStore,
    // Bodies above the largest valid batch are refused before parsing.
    express.json({ limit: BODY_LIMIT_BYTES }),
    expressMiddleware(apollo, {
      context: async ({ req }) => createContext(services, await viewerAtOperationStart(services, req)),
    }),
  );
  app.post("/v1/events", requireKey(services), noStore, ...ingestHandlers(services));
  app.get("/export/usage.csv", requireKey(services), usageExportHandler(services));
  app.get("/export/payg.csv", requireKey(services), paygExportHandler(services));
  app.get("/export/audit.csv", requireKey(services), auditExportHandler(services));
  app.get("/export/prices.csv", requireKey(services), priceTableExportHandler(services));
  app.use((_req: Request, res: Response) => sendError(res, 404, "NOT_FOUND", "no such route"));
  app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const status = (error as { status?: number }).status ?? 500;
    if (status === 413) return sendError(res, 413, "BAD_USER_INPUT", BODY_TOO_LARGE);
    // body-parser's own words: "unsupported charset …" or "unsupported content encoding …".
    if (status === 415) return sendError(res, 415, "BAD_USER_INPUT", `${(error as Error).message}: send UTF-8, plain or encoded as gzip, deflate or br`);
    if (status >= 400 && status < 500) return sendError(res, status, "BAD_USER_INPUT", NOT_JSON);
    return failUnexpectedly(res, error);
  });

  const plainGraphqlPost = graphqlPost(services, apollo);
  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    if (!isPlainGraphqlPost(req)) return app(req, res);
    plainGraphqlPost(req, res).catch((error: unknown) => failUnexpectedly(res, error));
  });

  services.funding.poolStarts.start();
  return {
    server,
    services,
    stop: async () => {
      await services.funding.poolStarts.stop();
      await apollo.stop();
    },
  };
}
