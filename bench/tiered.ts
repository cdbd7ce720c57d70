/**
 * B6: rating under a tiered plan against LEGACY rating, in the benchmark process, on one store:
 * the same 500-event batches of the same APIs, for PAID prepay accounts (charged units with their
 * remainders, the plan read per group) and for LEGACY accounts (exact per-event tokens), measured
 * in alternating slices so the machine's noise falls on both sides of the ratio.
 */
import { randomUUID } from "node:crypto";
import { MICROS_PER_TOKEN } from "../server/core/money.js";
import { SYSTEM_ACTOR } from "../server/core/model.js";
import { DEFAULT_RULES } from "../server/services/context.js";
import { createServices, type Services } from "../server/services/index.js";
import type { UsageEvent } from "../server/services/rating.service.js";
import type { Store } from "../server/store/port.js";

const ACCOUNTS_PER_SIDE = 100;
const SLICES = 4;

export interface TieredComparison {
  /** Events a second under LEGACY rules. */
  readonly legacy: number;
  /** Events a second under PAID prepay plans. */
  readonly tiered: number;
}

export async function tieredAgainstLegacy(store: Store, batchSize: number, milliseconds: number): Promise<TieredComparison> {
  const services = createServices({ store, clock: Date.now, rules: DEFAULT_RULES });
  const legacy = await fundedAccounts(services, "legacy");
  const tiered = await fundedAccounts(services, "tiered");
  for (const accountId of tiered) {
    await services.tiered.enrollPlan({ accountId, tier: "PAID", payg: false, effectiveFrom: Date.now() - 1000 }, SYSTEM_ACTOR);
  }
  const rate = (accounts: readonly number[], ms: number) => rateOf(services, accounts, batchSize, ms);
  // Warm both paths first (JIT, the price book, the store's statements).
  await rate(legacy, Math.min(500, milliseconds / 4));
  await rate(tiered, Math.min(500, milliseconds / 4));
  let legacyEvents = 0;
  let tieredEvents = 0;
  for (let slice = 0; slice < SLICES; slice++) {
    legacyEvents += await rate(legacy, milliseconds / SLICES);
    tieredEvents += await rate(tiered, milliseconds / SLICES);
  }
  return { legacy: legacyEvents / SLICES, tiered: tieredEvents / SLICES };
}

/** Accounts with a Flex pack far larger than any run spends. */
async function fundedAccounts(services: Services, label: string): Promise<number[]> {
  const ids: number[] = [];
  for (let i = 0; i < ACCOUNTS_PER_SIDE; i++) {
    const account = await services.accounts.create({ name: `bench ${label} ${i}`, country: "JP" }, SYSTEM_ACTOR);
    await services.funding.recordFlexPurchase(
      { accountId: account.id, tokensMicros: 1_000_000n * MICROS_PER_TOKEN, purchasedAt: Date.now() - 86_400_000, channel: "ESTORE", orderRef: `bench-${label}-${randomUUID()}` },
      SYSTEM_ACTOR,
    );
    ids.push(account.id);
  }
  return ids;
}

/** Events a second rated in batches over `milliseconds`. */
async function rateOf(services: Services, accounts: readonly number[], batchSize: number, milliseconds: number): Promise<number> {
  const batch = (): UsageEvent[] =>
    Array.from({ length: batchSize }, (_, i) => ({
      eventId: randomUUID(),
      accountId: accounts[Math.floor(Math.random() * accounts.length)]!,
      // Processing seconds leave remainders under a tiered plan; jobs are whole units.
      apiCode: i % 2 ? "design-automation/autocad" : "model-derivative/simple-job",
      quantityMicros: (i % 2 ? 125n : 1n) * MICROS_PER_TOKEN,
      outcome: "SUCCEEDED",
      occurredAt: Date.now() - 1000,
      clientId: "bench-client",
      labels: {},
    }));
  let events = 0;
  const started = performance.now();
  while (performance.now() - started < milliseconds) {
    const refused = (await services.rating.recordUsageBatch(batch())).find((result) => result.error);
    if (refused) throw refused.error;
    events += batchSize;
  }
  return events / ((performance.now() - started) / 1000);
}
