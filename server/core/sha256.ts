import * as crypto from "node:crypto";

/**
 * The SHA-256 of a text, in hex. crypto.hash (Node 20.12 and later) hashes in one call; createHash
 * is the same digest, slower, and hashing runs on every request (the API key) and every event (its
 * fingerprint).
 */
export const sha256Hex: (text: string) => string =
  typeof (crypto as { hash?: unknown }).hash === "function"
    ? (text) => (crypto as unknown as { hash(algorithm: string, data: string, encoding: string): string }).hash("sha256", text, "hex")
    : (text) => crypto.createHash("sha256").update(text).digest("hex");
