/**
 * A request whose body arrives slowly: the key is checked again when the operation starts, so a
 * key revoked meanwhile does nothing, and a body that takes too long is cut off. One whose body
 * came with its headers is checked once.
 */
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../fixtures/server.js";

/** Sends the request line and headers, then the body in two parts, and collects the raw answer. */
function slowPost(server: TestServer, secret: string, body: string) {
  const { port } = new URL(server.url);
  const socket = connect(Number(port), "127.0.0.1");
  let received = "";
  const closed = new Promise<string>((resolve) => {
    socket.on("data", (chunk) => (received += chunk.toString()));
    socket.on("close", () => resolve(received));
    socket.on("error", () => resolve(received));
  });
  socket.write(
    `POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${secret}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n`,
  );
  const half = Math.floor(body.length / 2);
  socket.write(body.slice(0, half));
  return {
    // The rest of the body, without half-closing: a server that reads the client's end before it
    // has answered drops the request (Node's default), and the answer may take a database round trip.
    // "Connection: close" has the server close the connection once it has answered.
    finish: () => socket.write(body.slice(half)),
    answer: closed,
    close: () => socket.destroy(),
  };
}

const CREATE_KEY = JSON.stringify({ query: `mutation { createApiKey(input: { name: "made in flight", role: OPERATOR }) { secret } }` });
const keysNamed = async (server: TestServer, name: string) => (await server.services.keys.list()).filter((key) => key.name === name);

describe("a key revoked while the request body is in flight", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server.close());

  it("is refused with 401 when the operation starts, and nothing is written", async () => {
    const secret = await server.key("OPERATOR");
    const request = slowPost(server, secret, CREATE_KEY);
    // Let the server read the headers (and accept the key) before the revocation.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const id = (await server.services.keys.authenticate(secret))!.id;
    await server.graphql(`mutation($id: ID!) { revokeApiKey(id: $id) { id } }`, { id: String(id) });
    request.finish();
    const answer = await request.answer;
    expect(answer).toMatch(/^HTTP\/1\.1 401/);
    expect(answer).toMatch(/www-authenticate: Bearer/i);
    expect(answer).toContain('"code":"UNAUTHENTICATED"');
    expect(await keysNamed(server, "made in flight")).toEqual([]);
  });

  it("is still answered when the key stays valid", async () => {
    const request = slowPost(server, await server.key("OPERATOR"), CREATE_KEY);
    await new Promise((resolve) => setTimeout(resolve, 100));
    request.finish();
    expect(await request.answer).toMatch(/^HTTP\/1\.1 200/);
    expect(await keysNamed(server, "made in flight")).toHaveLength(1);
  });
});

describe("a request whose body arrived with its headers", () => {
  let server: TestServer;
  let keyLookups = 0;
  beforeAll(async () => {
    server = await startTestServer({ onStatement: (sql) => void (sql.includes('from "api_keys"') && keyLookups++) });
  });
  afterAll(() => server.close());

  it("looks its key up once: the first check already saw the whole request", async () => {
    const secret = await server.key("OPERATOR");
    const { port } = new URL(server.url);
    const body = JSON.stringify({ query: "{ __typename }" });
    const answer = await new Promise<string>((resolve) => {
      let received = "";
      const socket = connect(Number(port), "127.0.0.1", () => {
        keyLookups = 0;
        // Headers and body in one write: both are in before the key check answers. No half-close:
        // a server that reads the client's end before it has answered drops the request.
        socket.write(
          `POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${secret}\r\nContent-Type: application/json\r\n` +
            `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
        );
      });
      socket.on("data", (chunk) => (received += chunk.toString()));
      socket.on("close", () => resolve(received));
    });
    expect(answer).toMatch(/^HTTP\/1\.1 200/);
    expect(keyLookups).toBe(1);
  });
});

describe("a request body that never finishes", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ requestTimeoutMs: 1_000 });
  });
  afterAll(() => server.close());

  it("is cut off with 408 once the request timeout has passed, and nothing is written", async () => {
    const started = Date.now();
    const request = slowPost(server, await server.key("OPERATOR"), CREATE_KEY.replace("made in flight", "never finished"));
    try {
      const answer = await request.answer;
      expect(answer).toMatch(/^HTTP\/1\.1 408/);
      // The server checks its connections every quarter of the timeout: cut off within about 1.25 s.
      expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(await keysNamed(server, "never finished")).toEqual([]);
    } finally {
      request.close();
    }
  });
});
