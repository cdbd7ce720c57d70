import { createHash, randomBytes } from "node:crypto";
import { badInput, notFound } from "../core/errors.js";
import { type Actor, type ApiKey, type Role, ROLES } from "../core/model.js";
import { cleanText } from "../core/text.js";
import type { StoreWrites } from "../store/port.js";
import type { ServiceContext } from "./context.js";

export interface ApiKeyInput {
  readonly name: string;
  readonly role: Role;
  readonly resellerId?: number | null;
}

export interface CreatedApiKey {
  readonly key: ApiKey;
  /** Shown once; only its hash is stored. */
  readonly secret: string;
}

const SECRET_PREFIX = "fg_";

/**
 * A secret is 32 random bytes, so a plain SHA-256 is enough to store it: there is nothing to
 * brute-force, and a fast hash keeps authentication cheap on every request.
 */
export function hashSecret(secret: string): string {
  return createHash("sha256").update(secret).digest("hex");
}

/** Enough of a generated secret to tell keys apart; nothing of a secret a person chose. */
function displayPrefix(secret: string): string {
  return secret.startsWith(SECRET_PREFIX) ? secret.slice(0, SECRET_PREFIX.length + 4) : "(chosen)";
}

export function actorOf(key: ApiKey): Actor {
  return { name: key.name, role: key.role, keyId: key.id, resellerId: key.resellerId };
}

/**
 * Keys are stored as a fast SHA-256, which is safe for the 32 random bytes of a generated key
 * but not for a short secret a person chose: one leaked hash could be guessed offline. A chosen
 * bootstrap secret must be long enough to keep such a guess out of reach.
 */
export const MIN_BOOTSTRAP_SECRET_LENGTH = 32;
export const BOOTSTRAP_TOO_SHORT = `FLEXGATE_BOOTSTRAP_OPERATOR_KEY must be at least ${MIN_BOOTSTRAP_SECRET_LENGTH} characters`;

/** API keys: created with a secret shown once, stored hashed, revoked for good. */
export class KeyService {
  constructor(private readonly context: ServiceContext) {}

  /** @throws FlexgateError BAD_USER_INPUT, NOT_FOUND (reseller) */
  async create(input: ApiKeyInput, actor: Actor, field = "input"): Promise<CreatedApiKey> {
    return this.register(input, `${SECRET_PREFIX}${randomBytes(32).toString("base64url")}`, actor, field);
  }

  /** The key a secret belongs to, unless it is unknown or revoked. */
  async authenticate(secret: string): Promise<ApiKey | null> {
    // The lookup is by hash, so its timing tells nothing about the secret.
    if (secret.length < 16 || secret.length > 256) return null;
    return this.context.store.reads.findActiveKeyByHash(hashSecret(secret));
  }

  /**
   * Registers an operator key chosen by whoever installs Flexgate, when no operator key exists
   * yet, so a fresh install can be reached. Returns null when there was nothing to do.
   */
  async bootstrapOperator(secret: string, actor: Actor): Promise<ApiKey | null> {
    if (secret.length < MIN_BOOTSTRAP_SECRET_LENGTH) throw new Error(BOOTSTRAP_TOO_SHORT);
    return this.context.store.write({}, async (tx) => {
      if ((await tx.countActiveOperatorKeys()) > 0 || (await tx.findActiveKeyByHash(hashSecret(secret)))) return null;
      return this.insert(tx, { name: "bootstrap operator", role: "OPERATOR", resellerId: null }, secret, actor);
    });
  }

  /** @throws FlexgateError NOT_FOUND */
  async revoke(id: number, actor: Actor): Promise<ApiKey> {
    return this.context.store.write({}, async (tx) => {
      const before = await tx.findApiKey(id);
      if (!before) throw notFound("API key", "id");
      if (before.revokedAt !== null) return before;
      const now = this.context.clock();
      const after = await tx.markKeyRevoked(id, now);
      await tx.appendAudit(actor, { action: "apiKey.revoke", entityType: "ApiKey", entityId: id, before, after }, now);
      return after;
    });
  }

  find(id: number): Promise<ApiKey | null> {
    return this.context.store.reads.findApiKey(id);
  }

  list(): Promise<ApiKey[]> {
    return this.context.store.reads.listApiKeys();
  }

  private async register(input: ApiKeyInput, secret: string, actor: Actor, field: string): Promise<CreatedApiKey> {
    const name = cleanText(input.name, `${field}.name`, { max: 200 });
    if (!ROLES.includes(input.role)) throw badInput(`${field}.role`, "unknown role");
    const resellerId = input.resellerId ?? null;
    if (input.role === "PARTNER" && resellerId === null) {
      throw badInput(`${field}.resellerId`, "a PARTNER key is bound to one reseller");
    }
    if (input.role !== "PARTNER" && resellerId !== null) {
      throw badInput(`${field}.resellerId`, "only PARTNER keys are bound to a reseller");
    }
    return this.context.store.write({}, async (tx) => {
      if (resellerId !== null && !(await tx.findReseller(resellerId))) throw notFound("reseller", `${field}.resellerId`);
      return { key: await this.insert(tx, { name, role: input.role, resellerId }, secret, actor), secret };
    });
  }

  private async insert(tx: StoreWrites, input: ApiKeyInput & { resellerId: number | null }, secret: string, actor: Actor): Promise<ApiKey> {
    const now = this.context.clock();
    const key = await tx.insertApiKey(
      { name: input.name, role: input.role, resellerId: input.resellerId, secretHash: hashSecret(secret), secretPrefix: displayPrefix(secret), createdBy: actor.name },
      now,
    );
    await tx.appendAudit(actor, { action: "apiKey.create", entityType: "ApiKey", entityId: key.id, before: null, after: key }, now);
    return key;
  }
}
