/**
 * Reads that many requests make at once with the same arguments, shared by the calls made in one
 * turn of the event loop.
 */
import type { StoreReads } from "./port.js";

/**
 * The reads a request for a portal's account page makes, and every request's key lookup: the
 * reads many clients ask for at once with the same arguments (all of a metering pipeline's
 * connections send one key; a reseller's users and dashboards open the same page). They are
 * shared per turn of the event loop (sharedPerTurn).
 */
const SHARED_PER_TURN = [
  "findActiveKeyByHash",
  "listAccounts",
  "countAccounts",
  "findResellers",
  "creditLotsOf",
  "lotHoldingsOf",
  "tokenFlexPoolsOf",
  "flexPacksOf",
  "packHoldingsOf",
  "enrollmentsOf",
] as const satisfies readonly (keyof StoreReads)[];

/**
 * Calls with the same arguments made in one turn of the event loop share one read, made once the
 * turn's requests have all been read (at setImmediate). On SQLite each read is a read
 * transaction of its own on the writer's connection, whose locks alone cost 5.5 µs (a key lookup
 * took 6.5 µs in a quiet process, ten in one transaction 12.3 µs); on PostgreSQL each is a round
 * trip; and a page's reads build and parse hundreds of rows. The read comes after every request
 * it serves arrived, so it is as fresh as a read of their own: a key revoked, or a pack bought,
 * before a request arrives is in its answer. The callers share one result, so an array is
 * frozen: a caller must copy it to change it.
 */
function sharedPerTurn<A extends unknown[], T>(read: (...args: A) => Promise<T>): (...args: A) => Promise<T> {
  const pending = new Map<string, Promise<T>>();
  return (...args) => {
    const key = JSON.stringify(args);
    let shared = pending.get(key);
    if (!shared) {
      shared = new Promise<void>((resolve) => setImmediate(resolve)).then(async () => {
        pending.delete(key);
        const result = await read(...args);
        return Array.isArray(result) ? (Object.freeze(result) as T) : result;
      });
      pending.set(key, shared);
    }
    return shared;
  };
}

/**
 * Replaces each read of SHARED_PER_TURN (but `except`) with its shared form, for calls made
 * outside a unit. A unit's reads see what it has not committed, so they are its alone: shared
 * with a read outside it, they would hand that read uncommitted rows, or (on SQLite, where the
 * outside read waits for the unit to end) keep the unit waiting for its own read.
 */
export function shareReadsPerTurn(reads: StoreReads, inUnit: () => boolean, except?: keyof StoreReads): void {
  const byName = reads as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
  for (const name of SHARED_PER_TURN) {
    if (name === except) continue;
    const alone = byName[name]!;
    const shared = sharedPerTurn(alone);
    byName[name] = (...args) => (inUnit() ? alone(...args) : shared(...args));
  }
}
