/**
 * What the ledger's indexes cost on the write path, and what keeping them behind the commits
 * would win back: the ledger's rows alone (B2's sixth line, `ledgerAppender`) written on copies of
 * one database, each copy's schema changed one way, in alternating rounds. Each figure is given
 * against the shipped schema's in the same round, since this machine's speed moves between runs.
 *
 * The changed schemas are measured, not shipped: `bench/README.md` ("Targets not met", B2) says
 * what each would take from the readers of the ledger.
 *
 *   npm run bench:write-path -- --rounds 3 --seconds 8
 */
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import type Database from "better-sqlite3";
import { openDatabase } from "../server/store/sqlite/database.js";
import { ledgerAppender } from "./baselines.js";
import { generateDatabase } from "./generate.js";

/** Events per durable transaction: the usage batcher's group on SQLite. */
const GROUP = 2_000;
/** How many events a maintained-behind index lags at most before its maintenance runs. */
const LAG = 50_000;
const REPORTING_INDEXES = {
  usage_charges_account_occurred_idx: "account_id, occurred_at",
  usage_charges_account_id_idx: "account_id, id",
  usage_charges_occurred_idx: "occurred_at",
};

interface Variant {
  readonly name: string;
  /** Changes the copy's schema before the clock starts. */
  readonly prepare?: (db: Database.Database) => void;
  /** Inside each charge's transaction, after the charge is written. */
  readonly onCharge?: (db: Database.Database) => (eventId: string, chargeId: number | bigint) => void;
  /** Runs in its own durable transaction, on the clock, once per LAG events. */
  readonly maintain?: (db: Database.Database) => () => void;
}

const dropReportingIndexes = (db: Database.Database) => {
  for (const name of Object.keys(REPORTING_INDEXES)) db.exec(`drop index ${name}`);
};

/** The reporting indexes hold only rows flagged `reported`; a mover flags the tail in one go. */
const reportingBehind: Pick<Variant, "prepare" | "maintain"> = {
  prepare: (db) => {
    dropReportingIndexes(db);
    db.exec("alter table usage_charges add column reported integer not null default 0; update usage_charges set reported = 1");
    for (const [name, columns] of Object.entries(REPORTING_INDEXES)) db.exec(`create index ${name} on usage_charges (${columns}) where reported = 1`);
  },
  maintain: (db) => {
    const flag = db.prepare("update usage_charges set reported = 1 where id > ? and reported = 0");
    const top = db.prepare("select max(id) from usage_charges").pluck();
    let watermark = top.get() as number;
    return db.transaction(() => {
      const next = top.get() as number;
      flag.run(watermark);
      watermark = next;
    });
  },
};

/**
 * Event ids unique in two tables instead of the charges' index: new ids in a small one whose
 * pages stay few, merged in id order into the large one, so each of its leaves is written once
 * per merge rather than once per event that lands on it.
 */
const eventIdsBehind: Pick<Variant, "prepare" | "onCharge" | "maintain"> = {
  prepare: (db) =>
    db.exec(`drop index usage_charges_event_idx;
      create table event_ids_recent (event_id text primary key, charge_id integer not null) without rowid;
      create table event_ids (event_id text primary key, charge_id integer not null) without rowid`),
  onCharge: (db) => {
    const insert = db.prepare("insert into event_ids_recent (event_id, charge_id) values (?, ?)");
    return (eventId, chargeId) => void insert.run(eventId, chargeId);
  },
  maintain: (db) => {
    const merge = db.prepare("insert into event_ids select event_id, charge_id from event_ids_recent order by event_id");
    const empty = db.prepare("delete from event_ids_recent");
    return db.transaction(() => {
      merge.run();
      empty.run();
    });
  },
};

/** The same, with the database refusing a new id the large table holds, as a unique index would. */
const eventIdsBehindChecked: Pick<Variant, "prepare" | "onCharge" | "maintain"> = {
  ...eventIdsBehind,
  prepare: (db) => {
    eventIdsBehind.prepare!(db);
    db.exec(`create trigger event_ids_recent_unique before insert on event_ids_recent
      when exists (select 1 from event_ids where event_id = new.event_id)
      begin select raise(abort, 'UNIQUE constraint failed: event_ids.event_id'); end`);
  },
};

/**
 * Event ids kept behind in the charges table itself: new charges come flagged `pending`, so
 * their ids sit in a small partial unique index until a mover clears the flag and moves them to
 * the large one (a column default stands in for the insert that would set it).
 */
const eventIdsFlagged: Pick<Variant, "prepare" | "maintain"> = {
  prepare: (db) =>
    db.exec(`drop index usage_charges_event_idx;
      alter table usage_charges add column pending integer not null default 1;
      update usage_charges set pending = 0;
      create unique index usage_charges_event_idx on usage_charges (event_id) where pending = 0;
      create unique index usage_charges_pending_event_idx on usage_charges (event_id) where pending = 1`),
  maintain: (db) => {
    const clear = db.prepare("update usage_charges set pending = 0 where pending = 1");
    return () => void clear.run();
  },
};

/** The same, with the database refusing a pending id the large index holds, as one unique index would. */
const eventIdsFlaggedChecked: Pick<Variant, "prepare" | "maintain"> = {
  ...eventIdsFlagged,
  prepare: (db) => {
    eventIdsFlagged.prepare!(db);
    db.exec(`create trigger usage_charges_pending_unique before insert on usage_charges
      when exists (select 1 from usage_charges where event_id = new.event_id and pending = 0)
      begin select raise(abort, 'UNIQUE constraint failed: usage_charges.event_id'); end`);
  },
};

const VARIANTS: readonly Variant[] = [
  { name: "shipped schema" },
  { name: "event ids: an 8-character prefix index, not unique", prepare: (db) => db.exec("drop index usage_charges_event_idx; create index usage_charges_event_prefix_idx on usage_charges (substr(event_id, 1, 8))") },
  { name: `event ids: a recent table, merged per ${LAG.toLocaleString("en-US")}`, ...eventIdsBehind },
  { name: "event ids: the same, a trigger checking the merged ones", ...eventIdsBehindChecked },
  { name: `event ids: a partial index, flag cleared per ${LAG.toLocaleString("en-US")}`, ...eventIdsFlagged },
  { name: "event ids: the same, a trigger checking the large index", ...eventIdsFlaggedChecked },
  { name: `reporting indexes: partial, flag set per ${LAG.toLocaleString("en-US")}`, ...reportingBehind },
  {
    name: "both: recent event ids, flagged reporting",
    prepare: (db) => {
      eventIdsBehind.prepare!(db);
      reportingBehind.prepare!(db);
    },
    onCharge: eventIdsBehind.onCharge,
    maintain: (db) => {
      const ids = eventIdsBehind.maintain!(db);
      const reporting = reportingBehind.maintain!(db);
      return () => {
        ids();
        reporting();
      };
    },
  },
  { name: "floor: no event-id index", prepare: (db) => db.exec("drop index usage_charges_event_idx") },
  { name: "floor: no reporting indexes", prepare: dropReportingIndexes },
];

/** Events per second of `variant` on a fresh copy of `base`, maintenance included. */
function measure(variant: Variant, base: string, dir: string, accounts: { first: number; last: number }, milliseconds: number): number {
  const path = join(dir, "copy.sqlite");
  for (const suffix of ["", "-wal", "-shm"]) rmSync(path + suffix, { force: true });
  copyFileSync(base, path);
  const db = openDatabase({ path }).$client;
  try {
    variant.prepare?.(db);
    const append = ledgerAppender(db, accounts, variant.onCharge?.(db));
    const maintain = variant.maintain?.(db);
    let events = 0;
    const started = performance.now();
    while (performance.now() - started < milliseconds) {
      append(GROUP);
      events += GROUP;
      if (maintain && events % LAG === 0) maintain();
    }
    return events / ((performance.now() - started) / 1000);
  } finally {
    db.close();
  }
}

const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "3" },
    seconds: { type: "string", default: "8" },
    charges: { type: "string", default: "100000" },
  },
});
const dir = mkdtempSync(join(tmpdir(), "flexgate-write-path-"));
try {
  const base = join(dir, "base.sqlite");
  console.error(`generating 200 accounts and ${Number(values.charges).toLocaleString("en-US")} charges…`);
  const generated = await generateDatabase({ path: base, accounts: 200, charges: Number(values.charges), verify: "none", progress: false });
  const accounts = { first: generated.firstAccountId, last: generated.lastAccountId };
  for (let round = 1; round <= Number(values.rounds); round++) {
    console.log(`round ${round}: the ledger's rows alone, ${GROUP.toLocaleString("en-US")} events per durable transaction, ${values.seconds} s each`);
    let shipped = 0;
    for (const variant of VARIANTS) {
      const rate = measure(variant, base, dir, accounts, Number(values.seconds) * 1000);
      shipped ||= rate;
      console.log(`  ${variant.name.padEnd(56)} ${Math.round(rate).toLocaleString("en-US").padStart(7)} events/s  ×${(rate / shipped).toFixed(2)}`);
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
