import type { Actor, BalancePolicy } from "../core/model.js";
import { parseMicros } from "../core/money.js";
import { DAY_MS } from "../core/time.js";
import type { Services } from "../services/index.js";

const DEMO_ACTOR: Actor = { name: "demo data", role: "SYSTEM", keyId: null, resellerId: null };
const HOUR_MS = 3_600_000;
const tokens = (text: string) => parseMicros(text, "demo");

/** A tiny deterministic generator, so every fresh demo database looks the same. */
function sequence(seed: number) {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
    return state / 2_147_483_648;
  };
}

interface DemoUsage {
  readonly apiCode: string;
  /** Quantity range per event, in meter units. */
  readonly min: number;
  readonly max: number;
}

const DESIGN_AUTOMATION: DemoUsage = { apiCode: "design-automation/revit", min: 60, max: 1800 };
const TRANSLATION: DemoUsage = { apiCode: "model-derivative/complex-job", min: 1, max: 1 };
const SIMPLE_TRANSLATION: DemoUsage = { apiCode: "model-derivative/simple-job", min: 1, max: 1 };
const PHOTOSCENE: DemoUsage = { apiCode: "reality-capture/photoscene", min: 50, max: 400 };

/**
 * Loads demo resellers and accounts (names start with "Demo:" and rows are flagged demo) with
 * lots, packs and two months of usage, so a new user sees something real at once. Does nothing
 * when the database already has accounts; returns whether it loaded anything.
 */
export function seedDemoData(services: Services): Promise<boolean> {
  // One unit, the emptiness check included: two servers starting together on a new file both
  // found it empty and loaded the demo twice, and a crash midway left half of it for good. The
  // services' own units, started inside it, join it.
  return services.context.store.write({}, async () => {
    if ((await (await services.accounts.list({}, 1, undefined)).totalCount) > 0) return false;
    await loadDemo(services);
    return true;
  });
}

async function loadDemo(services: Services): Promise<void> {
  const now = services.context.clock();
  const random = sequence(20221107);

  const reseller = (name: string, tier: "PLATINUM" | "GOLD", flexAgreement: boolean) =>
    services.accounts.createReseller(
      { name, tier, flexAgreement, locations: ["JP"], languages: ["Japanese", "English"], services: flexAgreement ? ["Flex", "Consulting"] : ["Consulting"] },
      DEMO_ACTOR,
      { demo: true },
    );
  const sakura = await reseller("Demo: Sakura Systems", "PLATINUM", true);
  const fuji = await reseller("Demo: Fuji CAD Solutions", "GOLD", true);
  await reseller("Demo: Minato Digital (no Flex agreement)", "GOLD", false);

  const account = (name: string, resellerId: number | null, balancePolicy: BalancePolicy = "NEGATIVE_WITH_GRACE") =>
    services.accounts.create({ name, country: "JP", resellerId, balancePolicy }, DEMO_ACTOR, { demo: true });

  const pack = (accountId: number, size: string, daysAgo: number, resellerId: number | null) =>
    services.funding.recordFlexPurchase(
      {
        accountId,
        tokensMicros: tokens(size),
        purchasedAt: now - daysAgo * DAY_MS,
        channel: resellerId === null ? "ESTORE" : "RESELLER",
        resellerId,
        orderRef: `demo-order-${accountId}-${size}-${daysAgo}`,
        unitPrice: resellerId === null ? "1100" : "1000",
        currency: "JPY",
      },
      DEMO_ACTOR,
    );

  let eventNumber = 0;
  const usage = async (accountId: number, kinds: readonly DemoUsage[], days: number, perDay: number, endDaysAgo = 0) => {
    for (let day = days; day > endDaysAgo; day--) {
      for (let i = 0; i < perDay; i++) {
        const kind = kinds[Math.floor(random() * kinds.length)]!;
        const quantity = Math.round(kind.min + random() * (kind.max - kind.min));
        await services.rating.recordUsage({
          eventId: `demo-${accountId}-${++eventNumber}`,
          accountId,
          apiCode: kind.apiCode,
          quantityMicros: tokens(String(quantity)),
          outcome: random() < 0.05 ? "FAILED" : "SUCCEEDED",
          occurredAt: now - day * DAY_MS + Math.floor(random() * 20) * HOUR_MS,
          clientId: `demo-app-${accountId}`,
        });
      }
    }
  };

  // A long-standing customer: cloud credits from 2022 (used, then expired), two Flex packs.
  const kyoto = await account("Demo: Kyoto Architects", sakura.id);
  await services.funding.importCreditLot(
    { accountId: kyoto.id, amountMicros: tokens("200"), purchasedAt: Date.UTC(2022, 5, 1), externalRef: `demo-cc-${kyoto.id}` },
    DEMO_ACTOR,
  );
  for (let month = 0; month < 4; month++) {
    await services.rating.recordUsage({
      eventId: `demo-${kyoto.id}-cc-${month}`,
      accountId: kyoto.id,
      apiCode: "model-derivative/complex-job",
      quantityMicros: tokens("40"),
      outcome: "SUCCEEDED",
      occurredAt: Date.UTC(2022, 6 + month, 15),
    });
  }
  await pack(kyoto.id, "500", 200, sakura.id);
  await pack(kyoto.id, "100", 20, sakura.id);
  await usage(kyoto.id, [DESIGN_AUTOMATION, TRANSLATION, SIMPLE_TRANSLATION], 60, 3);

  // Prepaid only, with a pack that expires within 90 days.
  const osaka = await account("Demo: Osaka Structural", fuji.id, "HARD_STOP");
  await pack(osaka.id, "1000", 300, fuji.id);
  await usage(osaka.id, [DESIGN_AUTOMATION], 45, 2);

  // Ran out: the deficit is inside its grace period.
  const nagoya = await account("Demo: Nagoya Fabrication", sakura.id);
  await pack(nagoya.id, "100", 90, sakura.id);
  await usage(nagoya.id, [TRANSLATION], 80, 3);

  // Bought on the Autodesk eStore, without a reseller.
  const sapporo = await account("Demo: Sapporo Survey", null);
  await pack(sapporo.id, "300", 40, null);
  await usage(sapporo.id, [PHOTOSCENE], 30, 1);

  await account("Demo: Fukuoka Design (new)", fuji.id);
}
