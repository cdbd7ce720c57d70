/**
 * Reads that every balance figure shares under the tiered regime (domain §8): an account's funds
 * (lots, Token Flex pools and packs, as the drain sees them) and the plan in force at a time.
 */
import type { FundingSource } from "../core/drain.js";
import { type Enrollment, type Plan, planAt } from "../core/plan.js";
import type { Instant } from "../core/time.js";
import type { StoreReads } from "../store/port.js";
import { lotAsSource, packAsSource, poolAsSource } from "../store/sources.js";

/** Every lot, Token Flex pool and pack of the account, whenever valid, with what each holds now. */
export async function fundsOf(reads: StoreReads, accountId: number): Promise<FundingSource[]> {
  return [
    ...(await reads.lotHoldingsOf([accountId])).map(lotAsSource),
    ...(await reads.tokenFlexPoolsOf([accountId])).map(poolAsSource),
    ...(await reads.packHoldingsOf([accountId])).map(packAsSource),
  ];
}

export async function enrollmentsOf(reads: StoreReads, accountId: number): Promise<readonly Enrollment[]> {
  return (await reads.enrollmentsOf([accountId])).get(accountId) ?? [];
}

/** The plan in force at `at`: LEGACY for an account never enrolled. */
export async function planOf(reads: StoreReads, accountId: number, at: Instant): Promise<Plan> {
  return planAt(await enrollmentsOf(reads, accountId), at);
}
