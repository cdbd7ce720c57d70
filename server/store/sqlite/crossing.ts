/**
 * Errors crossing between threads (the rating thread, the read pool): structured clone keeps a
 * plain Error but turns a subclass (better-sqlite3's SqliteError) into a bare object, losing its
 * message, so an error crosses as its parts and is rebuilt on the other side.
 */

/** An unexpected error as it crosses. */
export interface CrossedError {
  readonly name: string;
  readonly message: string;
  readonly stack: string | undefined;
  readonly code: unknown;
}

export function crossed(error: unknown): CrossedError {
  if (!(error instanceof Error)) return { name: "Error", message: String(error), stack: undefined, code: undefined };
  return { name: error.name, message: error.message, stack: error.stack, code: (error as { code?: unknown }).code };
}

/** The error again, on the thread that receives it. */
export function rebuilt(error: CrossedError): Error {
  return Object.assign(new Error(error.message), { name: error.name, stack: error.stack }, error.code === undefined ? {} : { code: error.code });
}
