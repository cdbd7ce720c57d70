import type { IncomingMessage, ServerResponse } from "node:http";
import { type ApolloServer, HeaderMap } from "@apollo/server";
import { createContext, type GraphQLContext } from "../graphql/context.js";
import type { Services } from "../services/index.js";
import { BODY_LIMIT_BYTES, BODY_TOO_LARGE, NOT_JSON } from "./body-limit.js";
import { checkKeyBeforeBody, operationViewer, sendError } from "./auth.js";

/**
 * The one shape of request almost every client sends to the API, answered straight from
 * node:http: `POST /graphql`, a JSON body in UTF-8 with its length given, not compressed.
 * Express's router, its request and response objects and body-parser do nothing this shape
 * needs, and answering it without them made a portal page ×1.10 and a recordUsage request ×1.42
 * as fast in server CPU (`npm run bench:compare`). Every other request (GET, other media types,
 * compressed or chunked bodies) goes through Express as before, and this path answers exactly as
 * that one does: test/graphql/plain-post.test.ts sends each edge case down both.
 */
export function isPlainGraphqlPost(req: IncomingMessage): boolean {
  const { headers } = req;
  return (
    req.method === "POST" &&
    req.url === "/graphql" &&
    headers["content-length"] !== undefined &&
    headers["transfer-encoding"] === undefined &&
    headers["content-encoding"] === undefined &&
    PLAIN_JSON.has(headers["content-type"]?.toLowerCase() ?? "")
  );
}

const PLAIN_JSON = new Set(["application/json", "application/json; charset=utf-8"]);

/** The handler of the requests `isPlainGraphqlPost` picks: the key checked before the body is read, as `requireKey` does. */
export function graphqlPost(services: Services, apollo: ApolloServer<GraphQLContext>) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const check = await checkKeyBeforeBody(services, req, res);
    if (!check) return;
    res.setHeader("Cache-Control", "no-store");
    if (Number(req.headers["content-length"]) > BODY_LIMIT_BYTES) return sendError(res, 413, "BAD_USER_INPUT", BODY_TOO_LARGE);
    const text = await bodyText(req);
    if (text === null) return void req.destroy();
    const body = parseJson(text);
    if (body === undefined) return sendError(res, 400, "BAD_USER_INPUT", NOT_JSON);
    const headers = new HeaderMap();
    for (const [name, value] of Object.entries(req.headers)) if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(", ") : value);
    const answer = await apollo.executeHTTPGraphQLRequest({
      httpGraphQLRequest: { method: "POST", headers, search: "", body },
      context: async () => createContext(services, await operationViewer(services, req.headers.authorization, check)),
    });
    for (const [name, value] of answer.headers) res.setHeader(name, value);
    res.statusCode = answer.status ?? 200;
    // Apollo answers a single operation whole; incremental delivery (@defer) is not enabled.
    if (answer.body.kind !== "complete") throw new Error("an incremental answer reached the plain GraphQL path");
    // Sent as text: the socket encodes it as it writes, where a Buffer of the answer first would
    // be one more copy of it (a portal page answers about 32 KB) for the collector to free.
    res.setHeader("Content-Length", Buffer.byteLength(answer.body.string));
    res.end(answer.body.string);
  };
}

/** The body as text, or null when the client went away before sending all of it. */
function bodyText(req: IncomingMessage): Promise<string | null> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    // body-parser's decoder drops a byte order mark; so does this.
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8").replace(/^\uFEFF/, "")));
    // A client gone before the end closes the request without an "end": nothing is run.
    req.on("close", () => {
      if (!req.complete) resolve(null);
    });
    req.on("error", () => resolve(null));
  });
}

/** As body-parser's `json()` reads it: an empty body is `{}`, and only an object or an array is JSON here. */
function parseJson(text: string): unknown {
  if (text.length === 0) return {};
  const first = /^[\x20\x09\x0a\x0d]*([^\x20\x09\x0a\x0d])/.exec(text)?.[1];
  if (first !== "{" && first !== "[") return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
