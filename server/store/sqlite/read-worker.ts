/**
 * A thread of the read pool (read-pool.ts). It opens the SQLite file read-only once and serves
 * snapshot sessions: each session is one read transaction on this thread's connection, and the
 * reads that arrive on its port run in it with the adapter's own read functions. It also runs
 * whole reports (services/reports.ts), each in one read transaction, and answers with the result.
 */
import type { MessagePort } from "node:worker_threads";
import { type ErrorCode, FlexgateError } from "../../core/errors.js";
import { REPORTS } from "../../services/reports.js";
import type { Report, StoreReads } from "../port.js";
import { type Db, openDatabase, type SynchronousMode } from "./database.js";
import { type CrossedError, crossed } from "./crossing.js";
import { SqliteStore } from "./store.js";

export interface ReportTask {
  readonly path: string;
  /** A key of REPORTS. */
  readonly name: string;
  readonly args: readonly unknown[];
}

/** A report's answer; a refusal crosses as its code, message and field. */
export type ReportAnswer =
  | { readonly value: unknown }
  | { readonly refused: { readonly code: ErrorCode; readonly message: string; readonly field: string | undefined } }
  | { readonly failed: CrossedError };

export interface CheckpointTask {
  readonly path: string;
  readonly synchronous: SynchronousMode;
}

export interface SessionTask {
  readonly path: string;
  readonly port: MessagePort;
}

/** A read the session asks for; null ends the session. */
export type ReadRequest = { readonly id: number; readonly method: keyof StoreReads; readonly args: unknown[] } | null;

export type ReadAnswer = { readonly id: number; readonly value: unknown } | { readonly id: number; readonly error: unknown };

const stores = new Map<string, SqliteStore>();

function storeOf(path: string): SqliteStore {
  let store = stores.get(path);
  if (!store) stores.set(path, (store = new SqliteStore(openDatabase({ path, readonly: true }))));
  return store;
}

export default async function serveSession({ path, port }: SessionTask): Promise<void> {
  try {
    await storeOf(path).snapshot(
      (reads) =>
        new Promise<void>((ended) => {
          port.on("message", (request: ReadRequest) => {
            if (request === null) return ended();
            const read = reads[request.method] as (...args: unknown[]) => Promise<unknown>;
            read(...request.args).then(
              (value) => port.postMessage({ id: request.id, value } satisfies ReadAnswer),
              (error: unknown) => port.postMessage({ id: request.id, error } satisfies ReadAnswer),
            );
          });
        }),
    );
  } finally {
    port.close();
  }
}

export async function runReport({ path, name, args }: ReportTask): Promise<ReportAnswer> {
  const report = (REPORTS as Record<string, Report<readonly unknown[], unknown>>)[name];
  try {
    if (!report) throw new Error(`no report is named ${name}`);
    return { value: await storeOf(path).snapshot((reads) => report.run(reads, ...args)) };
  } catch (error) {
    if (error instanceof FlexgateError) return { refused: { code: error.code, message: error.message, field: error.field } };
    return { failed: crossed(error) };
  }
}

const checkpointers = new Map<string, Db>();

/**
 * Copies what the WAL holds back into the database file and syncs it, waiting for no reader or
 * writer (PASSIVE), on a connection of its own: the read connections may not write the file.
 */
export function checkpoint({ path, synchronous }: CheckpointTask): void {
  let db = checkpointers.get(path);
  if (!db) checkpointers.set(path, (db = openDatabase({ path, synchronous })));
  db.$client.pragma("wal_checkpoint(PASSIVE)");
}
