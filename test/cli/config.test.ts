/** The environment is read once at start: sensible defaults, and a wrong setting stops the start with its name. */
import { availableParallelism } from "node:os";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../server/config.js";
import { DEFAULT_RULES } from "../../server/services/context.js";

describe("loadConfig", () => {
  it("defaults to a durable local file on port 4000 with demo data and the published APS dates", () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ port: 4000, host: "127.0.0.1", dbPath: "./data/flexgate.sqlite", synchronous: "FULL", bootstrapOperatorKey: null, demoData: true, consoleIdleMinutes: 30, databaseUrl: null });
    expect(config.rules).toEqual(DEFAULT_RULES);
    expect(config.readThreads).toBe(Math.min(2, Math.max(1, availableParallelism() - 1)));
    expect(config.ratingThread).toBe(availableParallelism() > 2);
    expect(Object.isFrozen(config)).toBe(true);
  });

  it("takes each setting from its variable", () => {
    const config = loadConfig({
      PORT: "8080",
      HOST: "0.0.0.0",
      FLEXGATE_DB: "/var/lib/flexgate/ledger.sqlite",
      FLEXGATE_SYNCHRONOUS: "normal",
      FLEXGATE_DEMO: "off",
      FLEXGATE_BOOTSTRAP_OPERATOR_KEY: "x".repeat(32),
      FLEXGATE_CREDIT_SALES_END: "2022-12-01T00:00:00Z",
      FLEXGATE_CREDIT_ACCEPTANCE_END: "2026-02-01T00:00:00Z",
      FLEXGATE_PAYG_COUNTRIES: "jp, us,JP",
      FLEXGATE_CONSOLE_IDLE_MINUTES: "5",
      FLEXGATE_DATABASE_URL: "postgres://flexgate@db.internal:5432/flexgate",
      FLEXGATE_READ_THREADS: "0",
      FLEXGATE_DATABASE_POOL: "24",
      FLEXGATE_RATING_THREAD: availableParallelism() > 2 ? "off" : "on",
    });
    expect(config.ratingThread).toBe(availableParallelism() <= 2);
    expect(config.databaseUrl).toBe("postgres://flexgate@db.internal:5432/flexgate");
    expect(config.consoleIdleMinutes).toBe(5);
    expect(config.databasePool).toBe(24);
    expect(config).toMatchObject({ readThreads: 0, port: 8080, host: "0.0.0.0", dbPath: "/var/lib/flexgate/ledger.sqlite", synchronous: "NORMAL", demoData: false, bootstrapOperatorKey: "x".repeat(32) });
    expect(config.rules.creditSalesEndAt).toBe(Date.UTC(2022, 11, 1));
    expect(config.rules.creditAcceptanceEndAt).toBe(Date.UTC(2026, 1, 1));
    expect(config.rules.paygCountries).toEqual(["JP", "US"]);
  });

  it.each([
    ["a port that is not a number", { PORT: "http" }, "PORT"],
    ["a port out of range", { PORT: "70000" }, "PORT"],
    ["an unknown synchronous mode", { FLEXGATE_SYNCHRONOUS: "OFF" }, "FLEXGATE_SYNCHRONOUS"],
    ["a demo switch that is neither on nor off", { FLEXGATE_DEMO: "maybe" }, "FLEXGATE_DEMO"],
    ["a bootstrap secret of 31 characters", { FLEXGATE_BOOTSTRAP_OPERATOR_KEY: "x".repeat(31) }, "FLEXGATE_BOOTSTRAP_OPERATOR_KEY must be at least 32 characters"],
    ["the README's example bootstrap secret", { FLEXGATE_BOOTSTRAP_OPERATOR_KEY: "choose-a-secret-of-32-characters-or-more" }, "FLEXGATE_BOOTSTRAP_OPERATOR_KEY holds the example value from the README"],
    ["a rating thread switch that is neither on nor off", { FLEXGATE_RATING_THREAD: "auto" }, "FLEXGATE_RATING_THREAD must be on or off"],
    ["a read pool of no whole number of threads", { FLEXGATE_READ_THREADS: "two" }, "FLEXGATE_READ_THREADS"],
    ["a negative read pool", { FLEXGATE_READ_THREADS: "-1" }, "FLEXGATE_READ_THREADS"],
    ["an idle sign-out of zero minutes", { FLEXGATE_CONSOLE_IDLE_MINUTES: "0" }, "FLEXGATE_CONSOLE_IDLE_MINUTES"],
    ["an idle sign-out that is not a number", { FLEXGATE_CONSOLE_IDLE_MINUTES: "soon" }, "FLEXGATE_CONSOLE_IDLE_MINUTES"],
    ["a rule date that is not a date", { FLEXGATE_ESTORE_START: "July" }, "FLEXGATE_ESTORE_START"],
    ["a credit acceptance end that is not a date", { FLEXGATE_CREDIT_ACCEPTANCE_END: "end of 2025" }, "FLEXGATE_CREDIT_ACCEPTANCE_END"],
    ["a PAYG country that is not a two-letter code", { FLEXGATE_PAYG_COUNTRIES: "JP,Japan" }, "FLEXGATE_PAYG_COUNTRIES"],
    ["a PostgreSQL pool of no connections", { FLEXGATE_DATABASE_POOL: "0" }, "FLEXGATE_DATABASE_POOL"],
    ["a PostgreSQL pool that is not a number", { FLEXGATE_DATABASE_POOL: "many" }, "FLEXGATE_DATABASE_POOL"],
    ["a database URL of another kind", { FLEXGATE_DATABASE_URL: "mysql://db/flexgate" }, "FLEXGATE_DATABASE_URL must be a postgres:// URL"],
  ])("refuses %s, naming the variable", (_label, env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });
});
