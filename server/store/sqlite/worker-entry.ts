/**
 * Where a worker module of this folder is, however the server runs: `name`.ts from the sources
 * (tests, `tsx`, and tsx loads it in the thread too), `name`.js in dist/, or a bundle's entry
 * point of that name beside the bundled server.
 */
export function workerEntry(name: string): { filename: string; execArgv: string[] } {
  const extension = /\.[cm]?[jt]s$/.exec(new URL(import.meta.url).pathname)?.[0] ?? ".js";
  return {
    filename: new URL(`./${name}${extension}`, import.meta.url).href,
    execArgv: extension.endsWith("ts") ? ["--import", "tsx"] : [],
  };
}
