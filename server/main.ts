import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { type App, createApp } from "./app.js";
import { type Config, ConfigError } from "./config.js";
import { log } from "./log.js";
import { seedDemoData } from "./seed/demo.js";
import { keyOfRole, SYSTEM_ACTOR } from "./core/model.js";
import type { Services } from "./services/index.js";
import { openStore } from "./store/open.js";

export interface Running {
  readonly url: string;
  /** Drains in-flight requests, stops GraphQL and closes the database. */
  shutdown(): Promise<void>;
}

/** config → open db → migrate → bootstrap key → demo data → createApp → listen. */
export async function serve(config: Config): Promise<Running> {
  const store = await openStore(config);
  let app: App | undefined;
  try {
    app = await createApp({ config, store });
    const { services } = app;
    if (config.bootstrapOperatorKey) await registerBootstrapKey(services, config.bootstrapOperatorKey);
    if (config.demoData && (await seedDemoData(services))) log.info("loaded demo data into the empty database");
    await listen(app.server, config.port, config.host);
  } catch (error) {
    // A start that cannot finish leaves nothing open behind it: the caller says why and exits.
    await app?.stop();
    await store.close();
    throw error;
  }
  const started = app;
  const { port } = started.server.address() as AddressInfo;
  const url = `http://${config.host === "0.0.0.0" ? "localhost" : config.host}:${port}`;
  log.info("Flexgate is listening", { url, graphql: `${url}/graphql`, console: `${url}/console/`, ...(config.databaseUrl ? { db: "postgres", pool: config.databasePool } : { db: config.dbPath, synchronous: config.synchronous }) });
  if ((await started.services.keys.list()).every((key) => key.role !== "OPERATOR" || key.revokedAt !== null)) {
    log.info("no operator key yet: run `npx flexgate keys create --role OPERATOR --name <you>` or set FLEXGATE_BOOTSTRAP_OPERATOR_KEY");
  }
  let stopping: Promise<void> | undefined;
  return {
    url,
    shutdown: () =>
      (stopping ??= (async () => {
        await started.stop();
        // A group gathered from requests whose clients left is rated before the store closes.
        await started.services.usageBatcher.drain();
        await store.close();
        log.info("Flexgate stopped");
      })()),
  };
}

/**
 * Says what became of FLEXGATE_BOOTSTRAP_OPERATOR_KEY, every time. A revoked key's secret, or
 * another role's, stops the start: registering it again would bring back a key someone revoked.
 */
async function registerBootstrapKey(services: Services, secret: string): Promise<void> {
  const { outcome, key } = await services.keys.bootstrapOperator(secret, SYSTEM_ACTOR);
  const fix = "set a new secret (`openssl rand -base64 32`) or unset the variable";
  switch (outcome) {
    case "registered":
      return log.info("registered the bootstrap operator key from FLEXGATE_BOOTSTRAP_OPERATOR_KEY", { keyId: key.id });
    case "registered already":
      return log.info("the bootstrap operator key from FLEXGATE_BOOTSTRAP_OPERATOR_KEY is registered already", { keyId: key.id });
    case "ignored":
      return log.warn("FLEXGATE_BOOTSTRAP_OPERATOR_KEY is ignored: an operator key exists and this secret is none of the keys; unset the variable, or create keys with `flexgate keys create`");
    case "revoked":
      throw new ConfigError(`FLEXGATE_BOOTSTRAP_OPERATOR_KEY holds the secret of a revoked key (key ${key.id}), and a revoked key never comes back: ${fix}`);
    case "another role":
      throw new ConfigError(`FLEXGATE_BOOTSTRAP_OPERATOR_KEY holds the secret of ${keyOfRole(key.role)} (key ${key.id}), not an operator's: ${fix}`);
  }
}

/** Listens, turning the usual reasons a port cannot be had into one clear sentence. */
function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const failed = (error: NodeJS.ErrnoException) => {
      if (error.code === "EADDRINUSE") reject(new ConfigError(`port ${port} on ${host} is already in use: stop what listens there, or set PORT to a free port`));
      else if (error.code === "EACCES") reject(new ConfigError(`port ${port} on ${host} needs privileges this process does not have: set PORT above 1023`));
      else if (error.code === "EADDRNOTAVAIL") reject(new ConfigError(`HOST ${host} is not an address of this machine`));
      else reject(error);
    };
    server.once("error", failed);
    server.listen(port, host, () => {
      server.off("error", failed);
      resolve();
    });
  });
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
