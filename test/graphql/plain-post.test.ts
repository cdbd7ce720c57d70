/**
 * `POST /graphql` with a plain JSON body is answered from node:http directly (http/graphql-post.ts),
 * every other request by Express. The two must not be told apart: each request below is sent
 * once down each path, and the answers must match byte for byte, refusals included.
 */
import type { IncomingMessage } from "node:http";
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BODY_LIMIT_BYTES } from "../../server/http/body-limit.js";
import { isPlainGraphqlPost } from "../../server/http/graphql-post.js";
import { startTestServer, type TestServer } from "../fixtures/server.js";
import { ok } from "./support.js";

let server: TestServer;
let metering: string;

beforeAll(async () => {
  server = await startTestServer();
  metering = await server.key("METERING");
});

afterAll(() => server.close());

/** The same media type, spelled so that one goes down the plain path and the other through Express. */
const PLAIN = "application/json";
const THROUGH_EXPRESS = "application/json;charset=utf-8";

const asRequest = (contentType: string) =>
  ({ method: "POST", url: "/graphql", headers: { "content-type": contentType, "content-length": "2" } }) as unknown as IncomingMessage;

async function answer(contentType: string, body: string, key: string | null) {
  const response = await fetch(`${server.url}/graphql`, {
    method: "POST",
    headers: { "content-type": contentType, ...(key === null ? {} : { authorization: `Bearer ${key}` }) },
    body,
  });
  const headers = ["content-type", "cache-control", "www-authenticate"].map((name) => [name, response.headers.get(name)]);
  return { status: response.status, headers: Object.fromEntries(headers), body: await response.text() };
}

const query = (document: string, variables?: unknown) => JSON.stringify({ query: document, variables });

describe("the plain GraphQL path and Express answer alike", () => {
  it("takes only a POST to /graphql of plain JSON with its length given", () => {
    expect(isPlainGraphqlPost(asRequest(PLAIN))).toBe(true);
    expect(isPlainGraphqlPost(asRequest("Application/JSON; charset=UTF-8"))).toBe(true);
    expect(isPlainGraphqlPost(asRequest(THROUGH_EXPRESS))).toBe(false);
    const plain = asRequest(PLAIN);
    for (const other of [
      { ...plain, method: "GET" },
      { ...plain, url: "/graphql?x=1" },
      { ...plain, url: "/graphql/" },
      { ...plain, headers: { ...plain.headers, "content-encoding": "gzip" } },
      { ...plain, headers: { "content-type": PLAIN, "transfer-encoding": "chunked" } },
    ]) expect(isPlainGraphqlPost(other as IncomingMessage), JSON.stringify(other)).toBe(false);
  });

  const cases: [string, string, "operator" | "metering" | "none" | "unknown"][] = [
    ["a query", query("{ viewer { role } }"), "operator"],
    ["a query with variables", query("query($n: Int!) { accounts(first: $n) { totalCount } }", { n: 1 }), "operator"],
    ["a variable of the wrong type", query("query($n: Int!) { accounts(first: $n) { totalCount } }", { n: "one" }), "operator"],
    ["a field the schema lacks", query("{ nope }"), "operator"],
    ["a document that does not parse", query("{ viewer { role }"), "operator"],
    ["a query that is not a string", JSON.stringify({ query: 1 }), "operator"],
    ["a mutation the key may not run", query(`mutation { createAccount(input: { name: "x" }) { id } }`), "metering"],
    ["an empty body", "", "operator"],
    ["a body of white space", " \n\t ", "operator"],
    ["a JSON number", "1", "operator"],
    ["a JSON string", '"{ viewer { role } }"', "operator"],
    ["a batched array", `[${query("{ viewer { role } }")}]`, "operator"],
    ["JSON cut short", "{ not json", "operator"],
    ["JSON after a byte order mark", `\uFEFF${query("{ viewer { role } }")}`, "operator"],
    ["a body over the size limit", query("{ viewer { role } }", { pad: "x".repeat(BODY_LIMIT_BYTES) }), "operator"],
    ["no key", query("{ viewer { role } }"), "none"],
    ["an unknown key", query("{ viewer { role } }"), "unknown"],
  ];

  it.each(cases)("%s", async (_label, body, who) => {
    const key = { operator: server.operatorKey, metering, unknown: "no-such-key", none: null }[who];
    const plain = await answer(PLAIN, body, key);
    const throughExpress = await answer(THROUGH_EXPRESS, body, key);
    expect(plain).toEqual(throughExpress);
    if (plain.status !== 401) expect(plain.headers["cache-control"]).toBe("no-store");
  });

  it.each([
    ["charset", { "content-type": "application/json; charset=latin1" }, 'unsupported charset "LATIN1"'],
    ["content encoding", { "content-type": PLAIN, "content-encoding": "compress" }, 'unsupported content encoding "compress"'],
  ])("names an unsupported %s, where the body is not at fault", async (_what, headers, words) => {
    const response = await fetch(`${server.url}/graphql`, { method: "POST", headers: { ...headers, authorization: `Bearer ${server.operatorKey}` }, body: query("{ viewer { role } }") });
    expect(response.status).toBe(415);
    expect(((await response.json()) as { errors: { message: string; extensions: unknown }[] }).errors[0]).toEqual({
      message: `${words}: send UTF-8, plain or encoded as gzip, deflate or br`,
      extensions: { code: "BAD_USER_INPUT" },
    });
  });

  it("answers a mutation on both paths, each written once", async () => {
    const create = (name: string) => query(`mutation { createAccount(input: { name: "${name}" }) { name status } }`);
    const plain = await answer(PLAIN, create("plain"), server.operatorKey);
    const throughExpress = await answer(THROUGH_EXPRESS, create("through Express"), server.operatorKey);
    expect(JSON.parse(plain.body)).toEqual({ data: { createAccount: { name: "plain", status: "ACTIVE" } } });
    expect({ ...plain, body: "" }).toEqual({ ...throughExpress, body: "" });
    const names = (await ok(server, `{ accounts(first: 100) { edges { node { name } } } }`)).accounts.edges.map((edge: any) => edge.node.name);
    expect(names.filter((name: string) => name === "plain" || name === "through Express").sort()).toEqual(["plain", "through Express"]);
  });

  it("gives the answer's length in bytes, not characters, for names beyond ASCII", async () => {
    const name = "株式会社テスト 😀 Ünïcödé";
    const response = await fetch(`${server.url}/graphql`, {
      method: "POST",
      headers: { "content-type": PLAIN, authorization: `Bearer ${server.operatorKey}` },
      body: query(`mutation($name: String!) { createAccount(input: { name: $name }) { name } }`, { name }),
    });
    const bytes = Buffer.from(await response.arrayBuffer());
    expect(response.headers.get("content-length")).toBe(String(bytes.length));
    expect(JSON.parse(bytes.toString("utf8"))).toEqual({ data: { createAccount: { name } } });
  });

  it("runs nothing for a client that goes away halfway through its body, and keeps serving", async () => {
    const before = (await ok(server, `{ accounts(first: 1) { totalCount } }`)).accounts.totalCount;
    const body = query(`mutation { createAccount(input: { name: "never" }) { id } }`);
    const { port } = new URL(server.url);
    await new Promise<void>((resolve, reject) => {
      const socket = connect(Number(port), "127.0.0.1", () => {
        socket.write(
          `POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${server.operatorKey}\r\nContent-Type: ${PLAIN}\r\n` +
            `Content-Length: ${body.length}\r\n\r\n${body.slice(0, body.length / 2)}`,
        );
        setTimeout(() => socket.destroy(), 100);
      });
      socket.on("close", () => resolve());
      socket.on("error", reject);
    });
    expect((await ok(server, `{ accounts(first: 1) { totalCount } }`)).accounts.totalCount).toBe(before);
  });
});
