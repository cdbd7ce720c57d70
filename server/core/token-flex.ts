/**
 * Token Flex pools (domain §8): tokens of an enterprise agreement (EBA), imported by operators,
 * valid from startsAt until endsAt, consumed before Flex packs.
 *
 * How a service uses it: check an import with `checkTokenFlexPoolOrThrow` (idempotency on
 * externalRef stays the store's, like lot imports); hand the account's pools to the drain as
 * funding sources with `poolAsSource`, beside its lots and packs. The drain order
 * (compareDrainOrder) already places them.
 */
import type { FundingSource } from "./drain.js";
import { badInput } from "./errors.js";
import { formatInstant, type Instant } from "./time.js";

export interface TokenFlexPool {
  readonly id: number;
  readonly tokensMicros: bigint;
  readonly remainingMicros: bigint;
  readonly startsAt: Instant;
  readonly endsAt: Instant;
  readonly externalRef: string;
}

/** A pool pays usage that occurred in [startsAt, endsAt), like a lot or pack in its year. */
export function poolAsSource(pool: TokenFlexPool): FundingSource {
  return {
    kind: "TOKEN_FLEX",
    id: pool.id,
    sizeMicros: pool.tokensMicros,
    remainingMicros: pool.remainingMicros,
    purchasedAt: pool.startsAt,
    expiresAt: pool.endsAt,
  };
}

/** Whether the pool's end has passed: what is left is lost and never drains again. */
export function isPoolExpired(pool: TokenFlexPool, now: Instant): boolean {
  return pool.endsAt <= now;
}

/**
 * @throws BAD_USER_INPUT `input.tokens` for zero tokens (an agreement with nothing in it is a
 *   typo); `input.endsAt` unless after startsAt. Amount and date syntax are parsed before
 *   (parseMicros, parseInstant). Dates are not bounded: agreements predate Flexgate.
 */
export function checkTokenFlexPoolOrThrow(pool: { readonly tokensMicros: bigint; readonly startsAt: Instant; readonly endsAt: Instant }): void {
  if (pool.tokensMicros <= 0n) throw badInput("input.tokens", "input.tokens must be more than 0");
  if (pool.endsAt <= pool.startsAt) throw badInput("input.endsAt", `input.endsAt must be after input.startsAt (${formatInstant(pool.startsAt)})`);
}
