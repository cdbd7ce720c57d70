import { FlexgateError } from "../core/errors.js";
import type { Actor, BalancePolicy } from "../core/model.js";
import { parseMicros } from "../core/money.js";
import { TIERED_REGIME_START } from "../core/plan.js";
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
  /** `refusals`: the codes an event may be refused with and skipped (a suspended API, a restricted account), as APS refuses the call. */
  const usage = async (accountId: number, kinds: readonly DemoUsage[], days: number, perDay: number, endDaysAgo = 0, refusals: readonly string[] = []) => {
    for (let day = days; day > endDaysAgo; day--) {
      for (let i = 0; i < perDay; i++) {
        const kind = kinds[Math.floor(random() * kinds.length)]!;
        const quantity = Math.round(kind.min + random() * (kind.max - kind.min));
        try {
          await services.rating.recordUsage({
            eventId: `demo-${accountId}-${++eventNumber}`,
            accountId,
            apiCode: kind.apiCode,
            quantityMicros: tokens(String(quantity)),
            outcome: random() < 0.05 ? "FAILED" : "SUCCEEDED",
            occurredAt: now - day * DAY_MS + Math.floor(random() * 20) * HOUR_MS,
            clientId: `demo-app-${accountId}`,
          });
        } catch (error) {
          if (!(error instanceof FlexgateError && refusals.includes(error.code))) throw error;
        }
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

  if (now - TIERED_DEMO_START_DAYS_AGO * DAY_MS >= TIERED_REGIME_START) await loadTieredDemo(services, { account, pack, usage });
}

/** The tiered demo accounts enrolled this many days ago, and the demo caps took effect then. */
const TIERED_DEMO_START_DAYS_AGO = 40;

/**
 * Demo free caps, per API, in whole charged units a month. APS published its caps only as an
 * image, so Flexgate ships none: these are demo values, said so in each cap's note.
 */
const DEMO_CAPS: readonly (readonly [apiCode: string, unitsPerMonth: number])[] = [
  ["design-automation/revit", 10],
  ["model-derivative/complex-job", 30],
  ["model-derivative/simple-job", 50],
  ["reality-capture/photoscene", 20],
];

interface DemoHelpers {
  account(name: string, resellerId: number | null, balancePolicy?: BalancePolicy): Promise<{ id: number }>;
  pack(accountId: number, size: string, daysAgo: number, resellerId: number | null): Promise<unknown>;
  usage(accountId: number, kinds: readonly DemoUsage[], days: number, perDay: number, endDaysAgo?: number, refusals?: readonly string[]): Promise<void>;
}

/**
 * The tiered regime (domain §8): a FREE account, a PAID one with PAYG and a PAID prepay-only
 * one, each enrolled 40 days ago with a month of usage. Loaded only on a clock past the
 * regime's start plus those 40 days (enrollments start on or after 2025-12-08).
 */
async function loadTieredDemo(services: Services, { account, pack, usage }: DemoHelpers): Promise<void> {
  const now = services.context.clock();
  const start = now - TIERED_DEMO_START_DAYS_AGO * DAY_MS;
  // publishFreeCap takes effect now or later, never earlier; the demo's usage is a month old,
  // so its caps are written as history, the way the demo's usage is dated in the past.
  await services.context.store.write({ apiCodes: DEMO_CAPS.map(([apiCode]) => apiCode) }, async (tx) => {
    for (const [apiCode, unitsPerMonth] of DEMO_CAPS) {
      const cap = await tx.insertFreeCap({
        apiCode,
        unitsPerMonth,
        effectiveFrom: start,
        note: "demo value, not APS's (APS published its free caps only as an image)",
        publishedBy: DEMO_ACTOR.name,
        publishedAt: now,
      });
      await tx.appendAudit(DEMO_ACTOR, { action: "freeCap.publish", entityType: "FreeCap", entityId: cap.id, before: null, after: cap }, now);
    }
  });
  const enroll = (accountId: number, tier: "FREE" | "PAID", payg: boolean) =>
    services.tiered.enrollPlan({ accountId, tier, payg, effectiveFrom: start }, DEMO_ACTOR);

  // Free tier: revit reaches its cap and is suspended for the rest of its month.
  const sendai = await account("Demo: Sendai Studio (Free tier)", null);
  await enroll(sendai.id, "FREE", false);
  await usage(sendai.id, [DESIGN_AUTOMATION, TRANSLATION], 30, 2, 0, ["API_SUSPENDED"]);

  // Paid with PAYG: an enterprise agreement's Token Flex pool, then a pack, then the PAYG statement.
  const yokohama = await account("Demo: Yokohama Plant Engineering (PAYG)", null);
  await enroll(yokohama.id, "PAID", true);
  await services.funding.importTokenFlexPool(
    { accountId: yokohama.id, tokensMicros: tokens("40"), startsAt: start, endsAt: start + 365 * DAY_MS, externalRef: `demo-eba-${yokohama.id}` },
    DEMO_ACTOR,
  );
  await pack(yokohama.id, "100", TIERED_DEMO_START_DAYS_AGO, null);
  await usage(yokohama.id, [DESIGN_AUTOMATION, TRANSLATION, PHOTOSCENE], 30, 3);

  // Paid, prepay only: a pack and nothing else; once it is spent the account is restricted at once.
  const kobe = await account("Demo: Kobe Prepaid Works (prepay only)", null);
  await enroll(kobe.id, "PAID", false);
  await pack(kobe.id, "100", TIERED_DEMO_START_DAYS_AGO, null);
  await usage(kobe.id, [DESIGN_AUTOMATION, SIMPLE_TRANSLATION], 30, 2, 0, ["ACCOUNT_RESTRICTED"]);
}
