/**
 * Gives the event loop a turn before a heavy read. graphql-js resolves a whole operation in one
 * turn of the loop (promises and DataLoader batches run as microtasks), so a request with several
 * reports would hold every other client until its last one; yielding before each read bounds the
 * wait of others to one read, and LIMITS.maxCost bounds how many reads a request may make.
 */
export function yieldTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
