/**
 * Model-based testing of the service layer: fast-check generates sequences of lot imports,
 * Flex purchases, usage (single and batched, late, free, refused), replays, reversals, policy
 * changes and clock moves; each runs against the services on a real SQLite file and against a
 * deliberately plain reference model of shared/domain.md written here (bigint micros, arrays,
 * loops). After every step balances, statuses, what every lot and pack holds and every
 * charge's allocations must agree; a failing sequence shrinks to a minimal one. Its accounts
 * stay LEGACY; the tiered plans have their own model in model-based-tiered.test.ts.
 */
import fc from "fast-check";
import { expect, it } from "vitest";
import { FlexgateError } from "../../server/core/errors.js";
import type { UsageEvent } from "../../server/services/rating.service.js";
import { createHarness, type Harness, OPERATOR } from "../fixtures/harness.js";
import { timeLimit } from "../fixtures/engine.js";

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
const M = 1_000_000n;
const GRACE_MS = 14 * DAY;
/** Cloud credits were last sold the day before Flex launched (domain.md §3). */
const CREDIT_SALES_END = Date.UTC(2022, 10, 7);
const START = "2022-09-01T00:00:00Z";

type Outcome = "SUCCEEDED" | "FAILED" | "CANCELLED";
type Policy = "NEGATIVE_WITH_GRACE" | "HARD_STOP";
type SourceKind = "CREDIT_LOT" | "FLEX_PACK";

/** domain.md §2, the published rates of the APIs the model uses: micro-tokens per `unit` meter units. */
const PRICES: Record<string, readonly { from: number; rate: bigint; unit: bigint; billed: readonly Outcome[] }[]> = {
  "model-derivative/complex-job": [
    { from: Date.UTC(2016, 10, 1), rate: 1_500_000n, unit: 1n, billed: ["SUCCEEDED"] },
    { from: Date.UTC(2022, 2, 29), rate: 500_000n, unit: 1n, billed: ["SUCCEEDED"] },
  ],
  "design-automation/revit": [
    { from: Date.UTC(2019, 9, 28), rate: 6_000_000n, unit: 3600n, billed: ["SUCCEEDED"] },
    { from: Date.UTC(2022, 2, 29), rate: 2_000_000n, unit: 3600n, billed: ["SUCCEEDED"] },
  ],
  "reality-capture/photoscene": [
    { from: Date.UTC(2017, 10, 1), rate: 3_500_000n, unit: 1n, billed: ["SUCCEEDED", "CANCELLED"] },
    { from: Date.UTC(2022, 2, 29), rate: 1_000_000n, unit: 1n, billed: ["SUCCEEDED", "CANCELLED"] },
    { from: Date.UTC(2022, 8, 7), rate: 1_000_000n, unit: 50n, billed: ["SUCCEEDED", "CANCELLED"] },
  ],
  // No price before 2025-06-01: usage earlier is PRICE_NOT_FOUND.
  "design-automation/fusion": [{ from: Date.UTC(2025, 5, 1), rate: 3_000_000n, unit: 3600n, billed: ["SUCCEEDED"] }],
};

/** Purchase time plus one calendar year, UTC; 29 February becomes 28 February. */
function oneYearLater(t: number): number {
  const d = new Date(t);
  const year = d.getUTCFullYear() + 1;
  const daysInMonth = new Date(Date.UTC(year, d.getUTCMonth() + 1, 0)).getUTCDate();
  return Date.UTC(year, d.getUTCMonth(), Math.min(d.getUTCDate(), daysInMonth), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), d.getUTCMilliseconds());
}

interface Source { kind: SourceKind; id: number; accountId: number; size: bigint; remaining: bigint; purchasedAt: number; expiresAt: number }
interface Part { key: number; source: SourceKind | "DEFICIT"; sourceId: number | null; amount: bigint }
interface Charge { id: number; event: UsageEvent; tokens: bigint; parts: Part[]; reversed: boolean }
interface Settlement { partKey: number; kind: SourceKind; sourceId: number; amount: bigint }
interface Account { id: number; policy: Policy; deficit: bigint; graceStartedAt: number | null }

type Result = { ok: true; tokens: bigint } | { ok: false; code: string };

/** The reference model: the rule book read literally, with no shared code. */
class Model {
  sources: Source[] = [];
  charges: Charge[] = [];
  settlements: Settlement[] = [];
  private nextKey = 1;
  reference = 0;

  constructor(
    public now: number,
    readonly accounts: Account[],
    readonly resellerId: number,
  ) {}

  account(index: number): Account {
    return this.accounts[index % this.accounts.length]!;
  }

  status(account: Account): "ACTIVE" | "GRACE" | "RESTRICTED" {
    if (account.deficit === 0n || account.graceStartedAt === null) return "ACTIVE";
    return this.now < account.graceStartedAt + GRACE_MS ? "GRACE" : "RESTRICTED";
  }

  balance(account: Account) {
    let cloudCreditsMicros = 0n;
    let flexTokensMicros = 0n;
    for (const source of this.sources) {
      if (source.accountId !== account.id || source.purchasedAt > this.now || this.now >= source.expiresAt) continue;
      if (source.kind === "CREDIT_LOT") cloudCreditsMicros += source.remaining;
      else flexTokensMicros += source.remaining;
    }
    return {
      cloudCreditsMicros,
      flexTokensMicros,
      deficitMicros: account.deficit,
      availableMicros: cloudCreditsMicros + flexTokensMicros - account.deficit,
      graceEndsAt: account.deficit > 0n ? account.graceStartedAt! + GRACE_MS : null,
    };
  }

  /** New funds: the deficit first (oldest unpaid deficit part first) when the funds are not already expired. */
  fund(source: Source): void {
    this.sources.push(source);
    const account = this.accounts.find((candidate) => candidate.id === source.accountId)!;
    if (account.deficit === 0n || source.expiresAt <= this.now) return;
    for (const charge of this.charges) {
      if (charge.reversed || charge.event.accountId !== account.id) continue;
      for (const part of charge.parts) {
        if (part.source !== "DEFICIT" || source.remaining === 0n) continue;
        const paid = this.settlements.filter((s) => s.partKey === part.key).reduce((sum, s) => sum + s.amount, 0n);
        const pay = part.amount - paid < source.remaining ? part.amount - paid : source.remaining;
        if (pay <= 0n) continue;
        this.settlements.push({ partKey: part.key, kind: source.kind, sourceId: source.id, amount: pay });
        source.remaining -= pay;
        account.deficit -= pay;
      }
    }
    if (account.deficit === 0n) account.graceStartedAt = null;
  }

  /** Rates and pays one event, or says which refusal it gets; `commit` records the charge under the real id. */
  usage(event: UsageEvent): { result: Result; commit(id: number): void } {
    const refuse = (code: string) => ({ result: { ok: false as const, code }, commit: () => {} });
    const account = this.accounts.find((candidate) => candidate.id === event.accountId)!;
    const price = PRICES[event.apiCode]!.filter((version) => version.from <= event.occurredAt).at(-1);
    if (!price) return refuse("PRICE_NOT_FOUND");
    const numerator = event.quantityMicros * price.rate;
    const denominator = price.unit * M;
    const tokens = price.billed.includes(event.outcome) ? (2n * numerator + denominator) / (2n * denominator) : 0n;
    const parts: Omit<Part, "key">[] = [];
    let owed = tokens;
    if (tokens > 0n) {
      if (this.status(account) === "RESTRICTED") return refuse("ACCOUNT_RESTRICTED");
      const usable = this.sources
        .filter((s) => s.accountId === account.id && s.remaining > 0n && s.purchasedAt <= event.occurredAt && event.occurredAt < s.expiresAt)
        .sort((a, b) => {
          if (a.kind !== b.kind) return a.kind === "CREDIT_LOT" ? -1 : 1;
          if (a.expiresAt !== b.expiresAt) return a.expiresAt - b.expiresAt;
          if (a.kind === "FLEX_PACK" && a.size !== b.size) return a.size < b.size ? -1 : 1;
          return a.purchasedAt - b.purchasedAt || a.id - b.id;
        });
      for (const source of usable) {
        if (owed === 0n) break;
        const take = source.remaining < owed ? source.remaining : owed;
        parts.push({ source: source.kind, sourceId: source.id, amount: take });
        owed -= take;
      }
      if (account.policy === "HARD_STOP" && (owed > 0n || account.deficit > 0n)) return refuse("INSUFFICIENT_BALANCE");
      if (owed > 0n) parts.push({ source: "DEFICIT", sourceId: null, amount: owed });
    }
    return {
      result: { ok: true, tokens },
      commit: (id) => {
        for (const part of parts) {
          if (part.source !== "DEFICIT") this.sources.find((s) => s.kind === part.source && s.id === part.sourceId)!.remaining -= part.amount;
        }
        if (owed > 0n) {
          if (account.deficit === 0n) account.graceStartedAt = this.now;
          account.deficit += owed;
        }
        this.charges.push({ id, event, tokens, parts: parts.map((part) => ({ ...part, key: this.nextKey++ })), reversed: false });
      },
    };
  }

  /** Every part goes back where it came from; a deficit part's settled share goes back to what paid it. */
  reverse(charge: Charge): Result {
    if (charge.reversed) return { ok: false, code: "BAD_USER_INPUT" };
    const account = this.accounts.find((candidate) => candidate.id === charge.event.accountId)!;
    for (const part of charge.parts) {
      if (part.source !== "DEFICIT") {
        this.sources.find((s) => s.kind === part.source && s.id === part.sourceId)!.remaining += part.amount;
        continue;
      }
      let settled = 0n;
      for (const settlement of this.settlements.filter((s) => s.partKey === part.key)) {
        this.sources.find((s) => s.kind === settlement.kind && s.id === settlement.sourceId)!.remaining += settlement.amount;
        settled += settlement.amount;
      }
      account.deficit -= part.amount - settled;
    }
    if (account.deficit === 0n) account.graceStartedAt = null;
    charge.reversed = true;
    return { ok: true, tokens: charge.tokens };
  }
}

type Real = Harness;

const codeOf = async (work: () => unknown): Promise<string | null> => {
  try {
    await work();
    return null;
  } catch (error) {
    if (error instanceof FlexgateError) return error.code;
    throw error;
  }
};

/** Both sides as plain data, so a mismatch prints as a readable diff. */
async function expectSameState(model: Model, h: Real): Promise<void> {
  const { services, sql } = h;
  // findMany promises the accounts, not their order: PostgreSQL returns an updated row where it now lies.
  const real = (await services.accounts.findMany(model.accounts.map((account) => account.id))).sort((a, b) => a.id - b.id);
  const balances = await services.accounts.balances(real);
  const statuses = await services.accounts.statuses(real);
  expect(
    real.map((account, index) => ({ id: account.id, policy: account.balancePolicy, status: statuses[index], ...balances[index] })),
  ).toEqual(model.accounts.map((account) => ({ id: account.id, policy: account.policy, status: model.status(account), ...model.balance(account) })));

  const sourceRows = await sql.rows<{ kind: string; id: number; remaining: number }>(
    "select 'CREDIT_LOT' as kind, id, remaining_micros as remaining from credit_lots union all select 'FLEX_PACK', id, remaining_micros from flex_packs order by 1, 2",
  );
  expect(sourceRows.map((row) => `${row.kind}#${row.id}=${row.remaining}`)).toEqual(
    [...model.sources].sort((a, b) => a.kind.localeCompare(b.kind) || a.id - b.id).map((s) => `${s.kind}#${s.id}=${s.remaining}`),
  );

  const allocationRows = await sql.rows<{ charge: number; source: string; sourceId: number | null; amount: number }>(
    `select charge_id as charge, source, coalesce(credit_lot_id, flex_pack_id) as "sourceId", amount_micros as amount from allocations order by id`,
  );
  const reversed = new Set(await sql.column<number>("select charge_id from reversals"));
  const chargeRows = await sql.rows<{ id: number; tokens: number }>("select id, tokens_micros as tokens from usage_charges order by id");
  expect(
    chargeRows.map((row) => ({
      id: row.id,
      tokens: BigInt(row.tokens),
      reversed: reversed.has(row.id),
      receipt: allocationRows.filter((part) => part.charge === row.id).map((part) => `${part.source}#${part.sourceId ?? "-"}:${part.amount}`),
    })),
  ).toEqual(
    model.charges.map((charge) => ({
      id: charge.id,
      tokens: charge.tokens,
      reversed: charge.reversed,
      receipt: charge.parts.map((part) => `${part.source}#${part.sourceId ?? "-"}:${part.amount}`),
    })),
  );
  expect(await services.ledger.verify()).toEqual([]);
}

interface UsageSpec { account: number; apiCode: string; quantityMicros: bigint; outcome: Outcome; minutesBack: number }

function eventOf(model: Model, spec: UsageSpec, occurredAt = model.now - spec.minutesBack * MINUTE): UsageEvent {
  return {
    eventId: `event-${++model.reference}`,
    accountId: model.account(spec.account).id,
    apiCode: spec.apiCode,
    quantityMicros: spec.quantityMicros,
    outcome: spec.outcome,
    occurredAt,
  };
}

const describeSpec = (spec: UsageSpec) =>
  `${spec.apiCode} ×${Number(spec.quantityMicros) / 1e6} ${spec.outcome} on #${spec.account} ${spec.minutesBack} min ago`;

/**
 * Purchases are dated by calendar day, as invoices are: lots and packs bought the same day expire
 * together, which is where the smaller-pack-first and oldest-first rules decide the drain.
 */
const purchaseDate = (model: Model, daysBack: number) => Math.floor(model.now / DAY) * DAY - daysBack * DAY;

class ImportLot implements fc.AsyncCommand<Model, Real> {
  constructor(readonly accountIndex: number, readonly amountMicros: bigint, readonly daysBack: number) {}
  check = () => true;
  async run(model: Model, h: Real) {
    const account = model.account(this.accountIndex);
    const purchasedAt = purchaseDate(model, this.daysBack);
    let lot: { id: number } | undefined;
    const code = await codeOf(async () => {
      lot = await h.services.funding.importCreditLot({ accountId: account.id, amountMicros: this.amountMicros, purchasedAt, externalRef: `lot-${++model.reference}` }, OPERATOR);
    });
    expect(code).toBe(purchasedAt >= CREDIT_SALES_END ? "CREDIT_SALES_ENDED" : null);
    if (lot) model.fund({ kind: "CREDIT_LOT", id: lot.id, accountId: account.id, size: this.amountMicros, remaining: this.amountMicros, purchasedAt, expiresAt: oneYearLater(purchasedAt) });
    await expectSameState(model, h);
  }
  toString = () => `importLot(#${this.accountIndex}, ${Number(this.amountMicros) / 1e6}, ${this.daysBack} days ago)`;
}

class BuyPack implements fc.AsyncCommand<Model, Real> {
  constructor(readonly accountIndex: number, readonly tokens: number, readonly daysBack: number) {}
  check = () => true;
  async run(model: Model, h: Real): Promise<void> {
    const account = model.account(this.accountIndex);
    const purchasedAt = purchaseDate(model, this.daysBack);
    const size = BigInt(this.tokens) * M;
    const pack = await h.services.funding.recordFlexPurchase(
      { accountId: account.id, tokensMicros: size, purchasedAt, channel: "RESELLER", resellerId: model.resellerId, orderRef: `order-${++model.reference}` },
      OPERATOR,
    );
    model.fund({ kind: "FLEX_PACK", id: pack.id, accountId: account.id, size, remaining: size, purchasedAt, expiresAt: oneYearLater(purchasedAt) });
    await expectSameState(model, h);
  }
  toString = () => `buyPack(#${this.accountIndex}, ${this.tokens}, ${this.daysBack} days ago)`;
}

class SameDay implements fc.AsyncCommand<Model, Real> {
  constructor(readonly purchases: readonly (BuyPack | ImportLot)[]) {}
  check = () => true;
  async run(model: Model, h: Real) {
    for (const purchase of this.purchases) await purchase.run(model, h);
  }
  toString = () => this.purchases.map(String).join(", ");
}

class RecordUsage implements fc.AsyncCommand<Model, Real> {
  constructor(readonly spec: UsageSpec) {}
  check = (_model: Readonly<Model>) => true;
  async run(model: Model, h: Real) {
    await this.record(model, h, eventOf(model, this.spec));
  }
  protected async record(model: Model, h: Real, event: UsageEvent) {
    const expected = model.usage(event);
    let recorded: Awaited<ReturnType<Real["services"]["rating"]["recordUsage"]>> | undefined;
    const code = await codeOf(async () => (recorded = await h.services.rating.recordUsage(event)));
    expect(recorded ? { ok: true, tokens: recorded.charge.tokensMicros, replayed: recorded.replayed } : { ok: false, code }).toEqual(
      expected.result.ok ? { ...expected.result, replayed: false } : expected.result,
    );
    if (recorded) expected.commit(recorded.charge.id);
    await expectSameState(model, h);
  }
  toString = () => `recordUsage(${describeSpec(this.spec)})`;
}

/** Usage at the exact instant a lot or pack starts or stops counting, or 1 ms before it. */
class RecordUsageAtEdge extends RecordUsage {
  constructor(spec: UsageSpec, readonly sourceIndex: number, readonly edge: "purchasedAt" | "expiresAt", readonly offsetMs: -1 | 0) {
    super(spec);
  }
  override check = (model: Readonly<Model>) => model.sources.length > 0;
  override async run(model: Model, h: Real) {
    const source = model.sources[this.sourceIndex % model.sources.length]!;
    const at = Math.min(source[this.edge] + this.offsetMs, model.now);
    const account = model.accounts.findIndex((candidate) => candidate.id === source.accountId);
    await this.record(model, h, eventOf(model, { ...this.spec, account }, at));
  }
  override toString = () => `recordUsage(${describeSpec(this.spec)} at source ${this.sourceIndex} ${this.edge}${this.offsetMs ? " - 1 ms" : ""})`;
}

/** The batch path (one transaction, a savepoint per event) must decide exactly as one by one. */
class RecordBatch implements fc.AsyncCommand<Model, Real> {
  constructor(readonly specs: readonly UsageSpec[]) {}
  check = () => true;
  async run(model: Model, h: Real) {
    const events = this.specs.map((spec) => eventOf(model, spec));
    const results = await h.services.rating.recordUsageBatch(events);
    events.forEach((event, index) => {
      const expected = model.usage(event);
      const result = results[index]!;
      expect(result.error ? { ok: false, code: result.error.code } : { ok: true, tokens: result.charge.tokensMicros }).toEqual(expected.result);
      if (!result.error) expected.commit(result.charge.id);
    });
    await expectSameState(model, h);
  }
  toString = () => `recordUsageBatch([${this.specs.map(describeSpec).join("; ")}])`;
}

class Replay implements fc.AsyncCommand<Model, Real> {
  constructor(readonly chargeIndex: number, readonly changed: boolean) {}
  check = (model: Readonly<Model>) => model.charges.length > 0;
  async run(model: Model, h: Real) {
    const charge = model.charges[this.chargeIndex % model.charges.length]!;
    const event = this.changed ? { ...charge.event, quantityMicros: charge.event.quantityMicros + 1n } : charge.event;
    let recorded: Awaited<ReturnType<Real["services"]["rating"]["recordUsage"]>> | undefined;
    const code = await codeOf(async () => (recorded = await h.services.rating.recordUsage(event)));
    if (this.changed) expect(code).toBe("IDEMPOTENCY_CONFLICT");
    else expect({ id: recorded?.charge.id, replayed: recorded?.replayed }).toEqual({ id: charge.id, replayed: true });
    await expectSameState(model, h);
  }
  toString = () => `replay(charge ${this.chargeIndex}${this.changed ? ", changed" : ""})`;
}

class Reverse implements fc.AsyncCommand<Model, Real> {
  constructor(readonly chargeIndex: number) {}
  check = (model: Readonly<Model>) => model.charges.length > 0;
  async run(model: Model, h: Real) {
    const charge = model.charges[this.chargeIndex % model.charges.length]!;
    const expected = model.reverse(charge);
    const code = await codeOf(() => h.services.rating.reverseCharge(charge.id, "model-based reversal", OPERATOR));
    expect(code).toBe(expected.ok ? null : expected.code);
    await expectSameState(model, h);
  }
  toString = () => `reverse(charge ${this.chargeIndex})`;
}

class SetPolicy implements fc.AsyncCommand<Model, Real> {
  constructor(readonly accountIndex: number, readonly policy: Policy) {}
  check = () => true;
  async run(model: Model, h: Real) {
    const account = model.account(this.accountIndex);
    await h.services.accounts.update(account.id, { balancePolicy: this.policy }, OPERATOR);
    account.policy = this.policy;
    await expectSameState(model, h);
  }
  toString = () => `setPolicy(#${this.accountIndex}, ${this.policy})`;
}

class Advance implements fc.AsyncCommand<Model, Real> {
  constructor(readonly ms: number) {}
  check = () => true;
  async run(model: Model, h: Real) {
    model.now += this.ms;
    h.advance(this.ms);
    await expectSameState(model, h);
  }
  toString = () => `advance(${(this.ms / DAY).toFixed(2)} days)`;
}

/** Moves the clock to the exact end of an account's grace period, or 1 ms before it. */
class AdvanceToGraceEnd implements fc.AsyncCommand<Model, Real> {
  constructor(readonly accountIndex: number, readonly offsetMs: -1 | 0) {}
  check = (model: Readonly<Model>) => {
    const account = model.accounts[this.accountIndex % model.accounts.length]!;
    return account.graceStartedAt !== null && account.graceStartedAt + GRACE_MS + this.offsetMs > model.now;
  };
  async run(model: Model, h: Real) {
    const account = model.account(this.accountIndex);
    await new Advance(account.graceStartedAt! + GRACE_MS + this.offsetMs - model.now).run(model, h);
  }
  toString = () => `advanceToGraceEnd(#${this.accountIndex}${this.offsetMs ? " - 1 ms" : ""})`;
}

const accountIndex = fc.nat({ max: 2 });
/** Few distinct purchase dates, so same-day purchases (and their tie-breaks) are common. */
const daysBack = fc.oneof(fc.constantFrom(0, 1, 30, 200, 364), fc.integer({ min: 0, max: 500 }));
const usageSpec: fc.Arbitrary<UsageSpec> = fc.record({
  account: accountIndex,
  apiCode: fc.constantFrom(...Object.keys(PRICES)),
  quantityMicros: fc.oneof(
    { arbitrary: fc.integer({ min: 0, max: 40 }).map((n) => BigInt(n) * M), weight: 3 },
    { arbitrary: fc.bigInt({ min: 0n, max: 3_600n * M }), weight: 2 },
  ),
  outcome: fc.constantFrom<Outcome>("SUCCEEDED", "SUCCEEDED", "SUCCEEDED", "FAILED", "CANCELLED"),
  minutesBack: fc.oneof(
    { arbitrary: fc.integer({ min: 0, max: 3 * 24 * 60 }), weight: 3 },
    { arbitrary: fc.integer({ min: 0, max: 500 * 24 * 60 }), weight: 1 },
  ),
});

const commands = fc.commands<Model, Real, false>(
  [
    fc.tuple(accountIndex, fc.bigInt({ min: 1n, max: 300n * M }), daysBack).map(([a, amount, days]) => new ImportLot(a, amount, days)),
    fc.tuple(accountIndex, fc.oneof(fc.constantFrom(100, 150, 200), fc.integer({ min: 100, max: 400 })), daysBack).map(([a, tokens, days]) => new BuyPack(a, tokens, days)),
    // Two packs or lots bought the same day expire together: the smaller pack, or else the
    // older one, must drain first. Equal sizes leave only the id to decide.
    fc.tuple(accountIndex, fc.integer({ min: 100, max: 400 }), fc.option(fc.integer({ min: 100, max: 400 })), daysBack).map(
      ([a, first, second, days]) => new SameDay([new BuyPack(a, first, days), new BuyPack(a, second ?? first, days)]),
    ),
    fc.tuple(accountIndex, fc.bigInt({ min: 1n, max: 100n * M }), fc.option(fc.bigInt({ min: 1n, max: 100n * M })), fc.integer({ min: 0, max: 60 })).map(
      ([a, first, second, days]) => new SameDay([new ImportLot(a, first, days), new ImportLot(a, second ?? first, days)]),
    ),
    usageSpec.map((spec) => new RecordUsage(spec)),
    usageSpec.map((spec) => new RecordUsage(spec)),
    fc.tuple(usageSpec, fc.nat(), fc.constantFrom("purchasedAt" as const, "expiresAt" as const), fc.constantFrom(-1 as const, 0 as const)).map(
      ([spec, source, edge, offset]) => new RecordUsageAtEdge(spec, source, edge, offset),
    ),
    fc.array(usageSpec, { minLength: 2, maxLength: 4 }).map((specs) => new RecordBatch(specs)),
    fc.tuple(fc.nat(), fc.boolean()).map(([index, changed]) => new Replay(index, changed)),
    fc.nat().map((index) => new Reverse(index)),
    fc.tuple(accountIndex, fc.constantFrom<Policy>("NEGATIVE_WITH_GRACE", "HARD_STOP")).map(([a, policy]) => new SetPolicy(a, policy)),
    fc.oneof(fc.integer({ min: MINUTE, max: 2 * DAY }), fc.integer({ min: DAY, max: 60 * DAY })).map((ms) => new Advance(ms)),
    fc.integer({ min: 10 * DAY, max: 20 * DAY }).map((ms) => new Advance(ms)),
    fc.tuple(accountIndex, fc.constantFrom(-1 as const, 0 as const)).map(([a, offset]) => new AdvanceToGraceEnd(a, offset)),
  ],
  { maxCommands: 50, size: "+1" },
);

it("agrees with a plain model of the rule book after every step of random command sequences", async () => {
  const reached = { restricted: 0, settled: 0, reversedDeficit: 0, sameDayPacks: 0, runs: 0, steps: 0 };
  await fc.assert(
    fc.asyncProperty(commands, async (sequence) => {
      const h = await createHarness({ now: START });
      try {
        const reseller = await h.services.accounts.createReseller({ name: "Model reseller", tier: "PLATINUM", flexAgreement: true }, OPERATOR);
        const accounts = [];
        for (const [n, balancePolicy] of (["NEGATIVE_WITH_GRACE", "NEGATIVE_WITH_GRACE", "HARD_STOP"] as const).entries()) {
          const { id } = await h.services.accounts.create({ name: `Model ${n}`, country: "JP", resellerId: reseller.id, balancePolicy }, OPERATOR);
          accounts.push({ id, policy: balancePolicy, deficit: 0n, graceStartedAt: null });
        }
        const model = new Model(h.now(), accounts, reseller.id);
        await fc.asyncModelRun(() => ({ model, real: h }), sequence);
        reached.runs++;
        reached.steps += model.reference;
        const packs = model.sources.filter((s) => s.kind === "FLEX_PACK");
        if (packs.some((a) => packs.some((b) => a !== b && a.accountId === b.accountId && a.expiresAt === b.expiresAt && a.size !== b.size))) reached.sameDayPacks++;
        if (model.accounts.some((account) => model.status(account) === "RESTRICTED")) reached.restricted++;
        if (model.settlements.length > 0) reached.settled++;
        if (model.charges.some((charge) => charge.reversed && charge.parts.some((part) => part.source === "DEFICIT"))) reached.reversedDeficit++;
      } finally {
        await h.close();
      }
    }),
    { numRuns: 120, endOnFailure: false },
  );
  console.info(
    `model-based: ${reached.runs} sequences, ${reached.steps} writes; ended RESTRICTED ${reached.restricted}, with settlements ${reached.settled}, ` +
      `with a reversed deficit charge ${reached.reversedDeficit}, with same-day packs of different sizes ${reached.sameDayPacks}`,
  );
  // The generators must reach the interesting corners, or agreement proves little.
  expect(reached.restricted).toBeGreaterThan(0);
  expect(reached.settled).toBeGreaterThan(0);
  expect(reached.reversedDeficit).toBeGreaterThan(0);
  expect(reached.sameDayPacks).toBeGreaterThan(0);
}, timeLimit(60_000));
