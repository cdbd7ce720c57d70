import { availableParallelism } from "node:os";
import { parseInstant } from "./core/time.js";
import { defaultReadThreads } from "./store/sqlite/read-pool.js";
import type { SynchronousMode } from "./store/sqlite/database.js";
import { type BillingRules, DEFAULT_RULES } from "./services/context.js";
import { bootstrapSecretProblem } from "./services/keys.service.js";

export interface Config {
  readonly port: number;
  readonly host: string;
  readonly dbPath: string;
  /** A postgres:// URL selects PostgreSQL, shared by any number of replicas; null keeps the SQLite file. */
  readonly databaseUrl: string | null;
  /** PostgreSQL connections this process keeps open (FLEXGATE_DATABASE_POOL, default 10). */
  readonly databasePool: number;
  readonly synchronous: SynchronousMode;
  /** Worker threads that run heavy reads on their own SQLite connections; 0 runs them on the main loop. */
  readonly readThreads: number;
  /** Rate usage on a worker thread with its own SQLite connection, off the main loop. */
  readonly ratingThread: boolean;
  /** Registered as an operator key at start when no operator key exists yet. */
  readonly bootstrapOperatorKey: string | null;
  /** Load the demo resellers and accounts into an empty database at start. */
  readonly demoData: boolean;
  readonly rules: BillingRules;
  /** Minutes of inactivity after which the operator console signs out. */
  readonly consoleIdleMinutes: number;
}

/** How long an operator console tab may sit untouched before it signs out. */
export const DEFAULT_CONSOLE_IDLE_MINUTES = 30;

export class ConfigError extends Error {}

/** Reads the environment once into a frozen config, failing fast with the variable's name. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const port = env.PORT === undefined || env.PORT === "" ? 4000 : Number(env.PORT);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError(`PORT must be a port number, got "${env.PORT}"`);
  const synchronous = (env.FLEXGATE_SYNCHRONOUS ?? "FULL").toUpperCase();
  if (synchronous !== "FULL" && synchronous !== "NORMAL") {
    throw new ConfigError(`FLEXGATE_SYNCHRONOUS must be FULL or NORMAL, got "${env.FLEXGATE_SYNCHRONOUS}"`);
  }
  const bootstrap = env.FLEXGATE_BOOTSTRAP_OPERATOR_KEY || null;
  const problem = bootstrap === null ? null : bootstrapSecretProblem(bootstrap);
  if (problem) throw new ConfigError(problem);
  const databaseUrl = env.FLEXGATE_DATABASE_URL || null;
  if (databaseUrl !== null && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new ConfigError("FLEXGATE_DATABASE_URL must be a postgres:// URL");
  }
  const databasePool = env.FLEXGATE_DATABASE_POOL ? Number(env.FLEXGATE_DATABASE_POOL) : 10;
  if (!Number.isInteger(databasePool) || databasePool < 1 || databasePool > 1000) {
    throw new ConfigError(`FLEXGATE_DATABASE_POOL must be a whole number of connections from 1 to 1000, got "${env.FLEXGATE_DATABASE_POOL}"`);
  }
  const readThreads = env.FLEXGATE_READ_THREADS === undefined || env.FLEXGATE_READ_THREADS === "" ? defaultReadThreads() : Number(env.FLEXGATE_READ_THREADS);
  if (!Number.isInteger(readThreads) || readThreads < 0 || readThreads > 64) {
    throw new ConfigError(`FLEXGATE_READ_THREADS must be a whole number from 0 to 64, got "${env.FLEXGATE_READ_THREADS}"`);
  }
  const demoData = switchSetting(env, "FLEXGATE_DEMO", true);
  const ratingThread = switchSetting(env, "FLEXGATE_RATING_THREAD", defaultRatingThread());
  const idle = env.FLEXGATE_CONSOLE_IDLE_MINUTES ? Number(env.FLEXGATE_CONSOLE_IDLE_MINUTES) : DEFAULT_CONSOLE_IDLE_MINUTES;
  if (!Number.isInteger(idle) || idle < 1 || idle > 1440) {
    throw new ConfigError(`FLEXGATE_CONSOLE_IDLE_MINUTES must be a whole number of minutes from 1 to 1440, got "${env.FLEXGATE_CONSOLE_IDLE_MINUTES}"`);
  }
  return Object.freeze({
    port,
    host: env.HOST || "127.0.0.1",
    dbPath: env.FLEXGATE_DB || "./data/flexgate.sqlite",
    databaseUrl,
    databasePool,
    synchronous,
    readThreads,
    bootstrapOperatorKey: bootstrap,
    demoData,
    ratingThread,
    rules: Object.freeze({
      creditSalesEndAt: dateSetting(env, "FLEXGATE_CREDIT_SALES_END", DEFAULT_RULES.creditSalesEndAt),
      estoreStartAt: dateSetting(env, "FLEXGATE_ESTORE_START", DEFAULT_RULES.estoreStartAt),
      creditAcceptanceEndAt: dateSetting(env, "FLEXGATE_CREDIT_ACCEPTANCE_END", DEFAULT_RULES.creditAcceptanceEndAt),
      paygCountries: countriesSetting(env, "FLEXGATE_PAYG_COUNTRIES", DEFAULT_RULES.paygCountries),
    }),
    consoleIdleMinutes: idle,
  });
}

function dateSetting(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const value = env[name];
  if (!value) return fallback;
  try {
    return parseInstant(value, name);
  } catch {
    throw new ConfigError(`${name} must be an ISO-8601 UTC date such as 2022-11-07, got "${value}"`);
  }
}

/** A comma-separated list of ISO 3166-1 alpha-2 country codes, such as "JP,US,GB". */
function countriesSetting(env: NodeJS.ProcessEnv, name: string, fallback: readonly string[]): readonly string[] {
  const value = env[name];
  if (value === undefined || value.trim() === "") return fallback;
  const codes = value.split(",").map((code) => code.trim().toUpperCase());
  const wrong = codes.find((code) => !/^[A-Z]{2}$/.test(code));
  if (wrong !== undefined) throw new ConfigError(`${name} must list two-letter country codes separated by commas, such as "JP,US", got "${value}"`);
  return Object.freeze([...new Set(codes)]);
}

/**
 * The rating thread pays off beside the main loop and the read pool when there is a core for
 * each: on two cores they already share both, and its heap would take the server past its
 * memory bound (B5: 250 MB) for a gain measured at a tenth there (B1 ratio 0.56 → 0.60–0.66).
 */
export const defaultRatingThread = () => availableParallelism() > 2;

/** An on/off variable: on, off, true, false, 1 or 0, any case. */
function switchSetting(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const value = env[name];
  if (value === undefined || value === "") return fallback;
  const lower = value.toLowerCase();
  if (!["on", "off", "true", "false", "1", "0"].includes(lower)) throw new ConfigError(`${name} must be on or off, got "${value}"`);
  return ["on", "true", "1"].includes(lower);
}
