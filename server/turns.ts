/**
 * Turns of the event loop given to other clients before work that holds it. graphql-js resolves a
 * whole operation in one turn (promises and DataLoader batches run as microtasks), and rating on
 * SQLite holds the loop for a whole group, so without turns a busy server would read, accept and
 * answer nothing else meanwhile. Node accepts one waiting connection per turn, and a waiting
 * request needs a few turns to be read, authenticated and answered.
 */

/**
 * Before a heavy read: a waiting request gets the turns it needs between two of them;
 * LIMITS.maxCost bounds how many heavy reads one request may make.
 */
const TURNS = 3;

export async function yieldTurns(turns = TURNS): Promise<void> {
  for (let turn = 0; turn < turns; turn++) await new Promise((resolve) => setImmediate(resolve));
}
