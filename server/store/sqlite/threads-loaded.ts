/**
 * Node 20 aborts the whole process (V8 "IsGraphAsync must be used on an instantiated module")
 * when a worker thread is terminated while it is still instantiating its ES modules, as a pool
 * destroyed just after it started would do. So a pool is destroyed only once every thread it
 * started has loaded its module: piscina's ready message says so, and a thread that failed to
 * load has exited.
 */
import type { Piscina } from "piscina";

/** piscina's message from a thread whose task module has loaded (piscina/dist/common.js). */
const READY = "_WORKER_READY";

/** Resolves when every thread the pool has started so far has loaded its module, or exited. */
export function threadsLoaded(pool: Piscina): Promise<void> {
  return Promise.all(
    pool.threads.map(
      (thread) =>
        new Promise<void>((resolve) => {
          const done = () => {
            thread.off("message", onMessage);
            thread.off("exit", done);
            resolve();
          };
          const onMessage = (message: unknown) => {
            if (typeof message === "object" && message !== null && READY in message) done();
          };
          thread.on("message", onMessage);
          thread.on("exit", done);
        }),
    ),
  ).then(() => undefined);
}
