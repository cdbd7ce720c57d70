#!/usr/bin/env node
import { accessSync, constants, existsSync } from "node:fs";
import { parseArgs } from "node:util";
import Database from "better-sqlite3";
import { getTableName } from "drizzle-orm";
import { schemaTables } from "../schema/tables.js";
import { ConfigError, loadConfig } from "./config.js";
import { FlexgateError } from "./core/errors.js";
import { type Actor, ROLES, type Role } from "./core/model.js";
import { parseId } from "./core/text.js";
import { serveUntilSignalled } from "./main.js";
import { seedDemoData } from "./seed/demo.js";
import { DEFAULT_RULES } from "./services/context.js";
import { createServices } from "./services/index.js";
import { migrateStore, openStore } from "./store/open.js";

const CLI_ACTOR: Actor = { name: "flexgate CLI", role: "SYSTEM", keyId: null, resellerId: null };

const HELP: Record<string, string> = {
  main: `flexgate — metering and prepaid-balance gateway for Autodesk Platform Services

Usage: flexgate <command> [options]

Commands:
  serve                 migrate, then serve GraphQL, the console and exports on PORT
  migrate               apply pending database migrations
  migrate-to <url>      move the SQLite database into an empty PostgreSQL database
  seed                  load the demo data into an empty database
  keys create           create an API key and print its secret once
  keys revoke           revoke an API key
  keys list             list API keys (never their secrets)

Every command takes --help. Environment: FLEXGATE_DB (default ./data/flexgate.sqlite),
FLEXGATE_DATABASE_URL (a postgres:// URL: PostgreSQL instead of the SQLite file), PORT
(default 4000), HOST (default 127.0.0.1), FLEXGATE_SYNCHRONOUS (FULL or NORMAL),
FLEXGATE_DEMO (on or off), FLEXGATE_BOOTSTRAP_OPERATOR_KEY.`,
  serve: `Usage: flexgate serve [--no-demo]

Opens FLEXGATE_DB (creating it), applies migrations, registers FLEXGATE_BOOTSTRAP_OPERATOR_KEY
when no operator key exists, loads demo data into an empty database (unless --no-demo or
FLEXGATE_DEMO=off), and listens on HOST:PORT until SIGTERM or SIGINT.`,
  migrate: `Usage: flexgate migrate

Applies every pending migration to FLEXGATE_DB, or to FLEXGATE_DATABASE_URL when set. The APS
price history comes with them.`,
  "migrate-to": `Usage: flexgate migrate-to <postgres-url>

Copies every row of FLEXGATE_DB, ids kept, into the PostgreSQL database at <postgres-url>, in one
transaction read from one snapshot of the file, which is only read. Migrates the target first and
refuses, copying nothing, unless it holds no accounts, resellers, keys, ledger or audit rows and
only the shipped price history. Stop every server on the SQLite file first: what they write after
the snapshot is not copied. Then serve with FLEXGATE_DATABASE_URL=<postgres-url>.`,
  seed: `Usage: flexgate seed

Loads the demo resellers, accounts, lots, packs and usage into FLEXGATE_DB when it has no
accounts yet. Demo rows are flagged demo and their names start with "Demo:".`,
  keys: `Usage: flexgate keys <create|revoke|list> [options]

  flexgate keys create --role <OPERATOR|PARTNER|METERING|INTEGRATOR> --name <name> [--reseller <id>]
  flexgate keys revoke --id <key id>
  flexgate keys list

Each works on an existing database (run \`flexgate migrate\` or \`flexgate serve\` first) and takes --help.`,
  "keys create": `Usage: flexgate keys create --role <OPERATOR|PARTNER|METERING|INTEGRATOR> --name <name> [--reseller <id>]

Creates an API key and prints its secret once: it is stored only as a hash. PARTNER keys are
bound to one reseller (--reseller is required for them and refused for the others).`,
  "keys revoke": `Usage: flexgate keys revoke --id <key id>

Revokes an API key at once and for good.`,
  "keys list": `Usage: flexgate keys list

Lists API keys with their role, reseller and state. Secrets are never shown.`,
};

/** The options each command takes besides --help: any other is refused. */
const OPTIONS_OF: Record<string, readonly string[]> = {
  serve: ["no-demo"],
  "keys create": ["role", "name", "reseller"],
  "keys revoke": ["id"],
};

/** `existing`: refuse a missing SQLite file instead of creating it. */
async function openServices({ existing }: { existing: boolean }) {
  const config = loadConfig();
  // A key written to a new file, FLEXGATE_DB mistyped say, is one no server knows: only the
  // commands that set a database up (serve, migrate, seed) create it.
  if (existing && config.databaseUrl === null && !existsSync(config.dbPath)) {
    throw new ConfigError(`no SQLite database at ${config.dbPath} (FLEXGATE_DB): create it with \`flexgate migrate\` or \`flexgate serve\`, or set FLEXGATE_DB to the server's file`);
  }
  if (config.databaseUrl === null) refuseForeignFile(config.dbPath, { emptyIsNew: !existing });
  // A one-shot command reads and rates little: no threads to start and stop.
  const store = await openStore({ ...config, readThreads: 0, ratingThread: false });
  return { store, config, services: createServices({ store, clock: Date.now, rules: config.rules ?? DEFAULT_RULES }) };
}

/** The tables of a Flexgate database: its schema's and drizzle's record of the migrations applied. */
const FLEXGATE_TABLES = new Set(["__drizzle_migrations", ...Object.values(schemaTables).map((table) => getTableName(table))]);

/**
 * Refuses a FLEXGATE_DB file that holds something other than a Flexgate database before Flexgate
 * opens it: opening alone turns the file to WAL mode, and migrating writes Flexgate's tables into
 * another program's file. A file holding drizzle's record of migrations and only Flexgate's tables
 * is Flexgate's, or one another server is creating this moment (drizzle makes the record before
 * the migrations' transaction). `emptyIsNew`: a file holding nothing yet (SQLite takes a 0-byte
 * file for an empty database) is set up like a missing one, by the commands that create a database.
 */
function refuseForeignFile(path: string, { emptyIsNew }: { emptyIsNew: boolean }): void {
  const names = tableNames(path);
  if (names === null || (names.includes("__drizzle_migrations") && names.every((name) => FLEXGATE_TABLES.has(name)))) return;
  if (names.length === 0 && emptyIsNew) return;
  const holds = names.length === 0 ? "it is empty" : `it holds ${names.slice(0, 3).join(", ")}${names.length > 3 ? ", …" : ""}`;
  throw new ConfigError(`cannot use the SQLite database ${path} (FLEXGATE_DB): it is not a Flexgate database (${holds})`);
}

/**
 * The tables of the file, or null when it cannot be read here: no file, or one opening it for
 * Flexgate refuses with the reason (a folder, read-only, not SQLite).
 */
function tableNames(path: string): string[] | null {
  // A read-only connection leaves -wal and -shm files beside a WAL database, and SQLite opens a
  // file this user may not write read-only: only a writable file is read, by a connection that
  // removes them again. It also reads the -wal of a server running on the file, where a new
  // database's tables may be the only ones yet.
  try {
    accessSync(path, constants.R_OK | constants.W_OK);
  } catch {
    return null;
  }
  let sqlite: Database.Database | undefined;
  try {
    sqlite = new Database(path, { fileMustExist: true });
    return sqlite.prepare("select name from sqlite_master where type = 'table' and name not like 'sqlite\\_%' escape '\\' order by rowid").pluck().all() as string[];
  } catch {
    return null;
  } finally {
    sqlite?.close();
  }
}

/** Prints a table's progress on stderr when it is done, and at most once a second while it is copied. */
function progressLine() {
  let printedAt = 0;
  return ({ table, copied, total }: { table: string; copied: number; total: number }) => {
    const now = Date.now();
    if (copied < total && now - printedAt < 1000) return;
    printedAt = now;
    console.error(`${table}: ${copied}/${total} rows copied`);
  };
}

async function run(argv: string[]): Promise<number> {
  const [command, maybeSub] = argv;
  const name = command === "keys" && maybeSub && !maybeSub.startsWith("-") ? `keys ${maybeSub}` : command ?? "";
  const rest = argv.slice(name.split(" ").length);
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: name === "migrate-to",
    options: {
      help: { type: "boolean", short: "h" },
      "no-demo": { type: "boolean" },
      role: { type: "string" },
      name: { type: "string" },
      reseller: { type: "string" },
      id: { type: "string" },
    },
    strict: true,
  });
  if (!name) {
    console.error(HELP.main);
    return 2;
  }
  if (name === "help" || name === "--help" || name === "-h") {
    console.log(HELP.main);
    return 0;
  }
  if (!HELP[name]) {
    console.error(`unknown command "${name}"\n\n${name.startsWith("keys ") ? HELP.keys : HELP.main}`);
    return 2;
  }
  // One parser knows every command's options; each command takes only its own.
  const foreign = Object.keys(values).find((option) => option !== "help" && !OPTIONS_OF[name]?.includes(option));
  if (foreign) {
    console.error(`flexgate: ${name} takes no --${foreign} (see flexgate ${name} --help)`);
    return 2;
  }
  if (values.help) {
    console.log(HELP[name]);
    return 0;
  }

  switch (name) {
    case "keys":
      console.error(HELP.keys);
      return 2;
    case "serve": {
      const config = loadConfig(values["no-demo"] ? { ...process.env, FLEXGATE_DEMO: "off" } : process.env);
      if (config.databaseUrl === null) refuseForeignFile(config.dbPath, { emptyIsNew: true });
      await serveUntilSignalled(config);
      return -1; // keeps running
    }
    case "migrate": {
      const config = loadConfig();
      if (config.databaseUrl === null) refuseForeignFile(config.dbPath, { emptyIsNew: true });
      await migrateStore(config);
      console.log(`migrations applied to ${config.databaseUrl ? "the PostgreSQL database" : config.dbPath}`);
      return 0;
    }
    case "migrate-to": {
      const [url, ...extra] = positionals;
      if (!url || extra.length > 0) {
        console.error(HELP[name]);
        return 2;
      }
      const config = loadConfig();
      if (!existsSync(config.dbPath)) throw new ConfigError(`no SQLite database at ${config.dbPath} (FLEXGATE_DB): set FLEXGATE_DB to the file the server uses`);
      refuseForeignFile(config.dbPath, { emptyIsNew: false });
      // Imported here: a server on SQLite never loads node-postgres (see store/open.ts).
      const { MoveRefused, moveToPostgres } = await import("./store/move-to-postgres.js");
      let moved: Awaited<ReturnType<typeof moveToPostgres>>;
      try {
        moved = await moveToPostgres({ sqlitePath: config.dbPath, postgresUrl: url, onProgress: progressLine() });
      } catch (error) {
        if (!(error instanceof MoveRefused)) throw error;
        console.error(`flexgate: ${error.message}`);
        return 1;
      }
      const rows = moved.tables.reduce((sum, table) => sum + table.rows, 0);
      console.log(`moved ${rows} rows in ${moved.tables.length} tables from ${config.dbPath}; serve with FLEXGATE_DATABASE_URL set to the target`);
      return 0;
    }
    case "seed": {
      const { store, services } = await openServices({ existing: false });
      const loaded = await seedDemoData(services);
      await store.close();
      console.log(loaded ? "demo data loaded" : "the database already has accounts: nothing loaded");
      return 0;
    }
    case "keys create": {
      const role = values.role?.toUpperCase() as Role | undefined;
      if (!role || !ROLES.includes(role) || !values.name) {
        console.error(HELP[name]);
        return 2;
      }
      const { store, services } = await openServices({ existing: true });
      const created = await services.keys.create(
        { name: values.name, role, resellerId: values.reseller ? parseId(values.reseller, "--reseller") : null },
        CLI_ACTOR,
      );
      await store.close();
      console.error(`created ${role} key ${created.key.id} "${created.key.name}"; the secret below is shown only now:`);
      console.log(created.secret);
      return 0;
    }
    case "keys revoke": {
      if (!values.id) {
        console.error(HELP[name]);
        return 2;
      }
      const { store, services } = await openServices({ existing: true });
      const key = await services.keys.revoke(parseId(values.id, "--id"), CLI_ACTOR);
      await store.close();
      console.log(`revoked key ${key.id} "${key.name}"`);
      return 0;
    }
    case "keys list": {
      const { store, services } = await openServices({ existing: true });
      for (const key of await services.keys.list()) {
        const state = key.revokedAt === null ? "active" : `revoked ${new Date(key.revokedAt).toISOString()}`;
        console.log(`${key.id}\t${key.role}\t${key.resellerId ?? "-"}\t${key.secretPrefix}…\t${state}\t${key.name}`);
      }
      await store.close();
      return 0;
    }
  }
  return 2;
}

run(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof ConfigError || error instanceof FlexgateError) {
      console.error(`flexgate: ${error.message}`);
      process.exitCode = 2;
    } else if (error instanceof TypeError && "code" in error && String(error.code).startsWith("ERR_PARSE_ARGS")) {
      console.error(`flexgate: ${error.message}`);
      process.exitCode = 2;
    } else {
      console.error(error);
      process.exitCode = 1;
    }
  },
);
