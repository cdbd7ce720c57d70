import type { AddressInfo } from "node:net";
import { createApp } from "./app.js";
import type { Config } from "./config.js";
import { log } from "./log.js";
import { seedDemoData } from "./seed/demo.js";
import { SYSTEM_ACTOR } from "./core/model.js";
import { openStore } from "./store/open.js";

export interface Running {
  readonly url: string;
  /** Drains in-flight requests, stops GraphQL and closes the database. */
  shutdown(): Promise<void>;
}

/** config → open db → migrate → bootstrap key → demo data → createApp → listen. */
export async function serve(config: Config): Promise<Running> {
  const store = await openStore(config);
  const app = await createApp({ config, store });
  const { services } = app;
  if (config.bootstrapOperatorKey && (await services.keys.bootstrapOperator(config.bootstrapOperatorKey, SYSTEM_ACTOR))) {
    log.info("registered the bootstrap operator key from FLEXGATE_BOOTSTRAP_OPERATOR_KEY");
  }
  if (config.demoData && (await seedDemoData(services))) log.info("loaded demo data into the empty database");
  await new Promise<void>((resolve) => app.server.listen(config.port, config.host, resolve));
  const { port } = app.server.address() as AddressInfo;
  const url = `http://${config.host === "0.0.0.0" ? "localhost" : config.host}:${port}`;
  log.info("Flexgate is listening", { url, graphql: `${url}/graphql`, console: `${url}/console/`, db: config.databaseUrl ? store.engine : config.dbPath, synchronous: config.synchronous });
  if ((await services.keys.list()).every((key) => key.role !== "OPERATOR" || key.revokedAt !== null)) {
    log.info("no operator key yet: run `npx flexgate keys create --role OPERATOR --name <you>` or set FLEXGATE_BOOTSTRAP_OPERATOR_KEY");
  }
  let stopping: Promise<void> | undefined;
  return {
    url,
    shutdown: () =>
      (stopping ??= (async () => {
        await app.stop();
        await store.close();
        log.info("Flexgate stopped");
      })()),
  };
}

/** Runs until SIGTERM or SIGINT, then shuts down gracefully. */
export async function serveUntilSignalled(config: Config): Promise<void> {
  // The handlers go in before the server listens: a signal that arrived after the "listening" line
  // but before they were installed took Node's default action and killed the process with the
  // database open. A signal during start-up waits for the start to finish, then shuts down.
  const running = serve(config);
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.once(signal, () => {
      log.info(`received ${signal}: finishing in-flight requests`);
      running.then((started) => started.shutdown()).then(
        () => process.exit(0),
        (error: unknown) => {
          log.error("shutdown failed", { error: String(error) });
          process.exit(1);
        },
      );
    });
  }
  await running;
}
