/**
 * Gives the event loop turns before a heavy read. graphql-js resolves a whole operation in one
 * turn of the loop (promises and DataLoader batches run as microtasks), so a request with several
 * reports would hold every other client until its last one. A waiting request needs a few turns
 * to be read, authenticated and answered, so this gives it that many between two heavy reads;
 * LIMITS.maxCost bounds how many heavy reads one request may make.
 */
const TURNS = 3;

export async function yieldTurns(): Promise<void> {
  for (let turn = 0; turn < TURNS; turn++) await new Promise((resolve) => setImmediate(resolve));
}
