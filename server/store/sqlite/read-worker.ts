/**
 * A thread of the read pool (read-pool.ts). It opens the SQLite file read-only once and serves
 * snapshot sessions: each session is one read transaction on this thread's connection, and the
 * reads that arrive on its port run in it with the adapter's own read functions.
 */
import type { MessagePort } from "node:worker_threads";
import type { StoreReads } from "../port.js";
import { openDatabase } from "./database.js";
import { SqliteStore } from "./store.js";

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
