/**
 * B3's baseline server, run as a child process of the benchmark: bare node:http answering
 * POST /graphql with graphql-js `execute` of the pre-parsed, pre-validated portal document over
 * in-memory data (the file named by the first argument, written by writePortalData). No Express,
 * no Apollo, no type-graphql, no key check, no database: the floor a GraphQL server serving the
 * same page over the same HTTP load could reach on this machine.
 *
 *   node --import tsx bench/bare-server.ts <portal-data.json>
 *
 * Prints one JSON line with its URL on stdout once it listens; stops on SIGTERM.
 */
import { createServer } from "node:http";
import { type AddressInfo } from "node:net";
import { execute, type ExecutionResult } from "graphql";
import { bareGraphql, readPortalData } from "./baselines.js";

const file = process.argv[2];
if (!file) throw new Error("usage: bare-server.ts <portal-data.json>");
const bare = bareGraphql(readPortalData(file));

/** A document is parsed and validated once, as Apollo's document cache does for the real server. */
const documents = new Map([[bare.query, bare.document]]);

const server = createServer((req, res) => {
  const answer = (status: number, body: unknown) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text) });
    res.end(text);
  };
  if (req.method !== "POST" || req.url !== "/graphql") return answer(404, { errors: [{ message: "no such route" }] });
  const chunks: Buffer[] = [];
  req.on("data", (chunk: Buffer) => chunks.push(chunk));
  req.on("end", () => {
    let request: { query?: unknown; variables?: Record<string, unknown> };
    try {
      request = JSON.parse(Buffer.concat(chunks).toString("utf8")) as typeof request;
    } catch {
      return answer(400, { errors: [{ message: "the request body is not valid JSON" }] });
    }
    const document = typeof request.query === "string" ? documents.get(request.query) : undefined;
    if (!document) return answer(400, { errors: [{ message: "only the portal query is served here" }] });
    void Promise.resolve(execute({ schema: bare.schema, document, rootValue: bare.rootValue, variableValues: request.variables }) as ExecutionResult).then(
      (result) => answer(200, result),
      (error: unknown) => answer(500, { errors: [{ message: String(error) }] }),
    );
  });
});

server.keepAliveTimeout = 30_000;
server.listen(0, "127.0.0.1", () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${port}` })}\n`);
});
process.once("SIGTERM", () => server.close(() => process.exit(0)));
// Idle keep-alive connections would hold close() open; the load has ended when SIGTERM comes.
process.once("SIGTERM", () => server.closeAllConnections());
