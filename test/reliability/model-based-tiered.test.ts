/**
 * Model-based testing of the tiered regime (domain §8), beside the LEGACY one (model-based.test.ts):
 * fast-check generates sequences of usage (single and batched, late, unbilled, refused), Token
 * Flex pool imports, Flex purchases, reversals and clock moves over a FREE account, a PAID
 * prepay-only account and a PAID account with PAYG. Each step runs against the services on a
 * real SQLite file and against a plain reference model written here from the rule book
 * (bigint micros, maps, loops). Before every recording, the quote must say what recording
 * then does; after every step statuses, balances, what every pool and pack holds, every
 * charge's units and parts, the FREE account's free usage and the PAYG statements must agree.
 * Test values chosen for the test (fixtures/tiered.ts): revit at 1 token per 1200 s capped at
 * 3 units a month, a cap operators change now or later; the complex job at its stored 0.5 tokens
 * a job, with no cap.
 */
import fc from "fast-check";
import { expect, it } from "vitest";
import { FlexgateError } from "../../server/core/errors.js";
import type { Allocation } from "../../server/core/drain.js";
import type { UsageEvent } from "../../server/services/rating.service.js";
import { createHarness, type Harness, OPERATOR } from "../fixtures/harness.js";
import { COMPLEX, publishTestTerms, REVIT, TERMS_PUBLISHED_AT } from "../fixtures/tiered.js";

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
const M = 1_000_000n;
const START = Date.UTC(2026, 0, 1);

type Outcome = "SUCCEEDED" | "FAILED" | "CANCELLED";
type Kind = "TOKEN_FLEX" | "FLEX_PACK";
type PlanName = "FREE" | "PREPAY" | "PAYG";

/** Micro meter units per charged unit and micro-tokens per unit. */
const TERMS: Record<string, { unitMicros: bigint; tokensPerUnit: bigint }> = {
  [REVIT]: { unitMicros: 1200n * M, tokensPerUnit: 1n * M },
  [COMPLEX]: { unitMicros: 1n * M, tokensPerUnit: 500_000n },
};

const monthOf = (t: number) => new Date(t).toISOString().slice(0, 7);
const nextMonthStart = (t: number) => {
  const d = new Date(t);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
};
const monthStart = (month: string) => Date.parse(`${month}-01T00:00:00Z`);
/** The statement a PAYG part goes on: its usage month while open (3 days after), else the booking month. */
const statementMonth = (usageMonth: string, now: number) => (now < nextMonthStart(monthStart(usageMonth)) + 3 * DAY ? usageMonth : monthOf(now));

interface Source { kind: Kind; id: number; accountId: number; size: bigint; remaining: bigint; startsAt: number; endsAt: number }
interface Part { key: number; source: string; sourceId: number | null; amount: bigint; units: bigint | null }
interface Charge { id: number; event: UsageEvent; units: bigint; tokens: bigint; parts: Part[]; reversed: boolean; paygMonth: string | null }
interface Settlement { partKey: number; kind: Kind; sourceId: number; amount: bigint }
interface Account { id: number; plan: PlanName; deficit: bigint }
/** `reaches`: per level of a cap in force during the month, when the used units first reached it. */
interface FreeMonth { used: bigint; overrun: bigint; latestAt: number | null; reaches: Map<bigint, number> }
interface Cap { apiCode: string; units: bigint; from: number }
interface PaygPart { accountId: number; month: string; apiCode: string; units: bigint; tokens: bigint }

type Result = { ok: true; units: bigint; tokens: bigint; receipt: string[] } | { ok: false; code: string };

const receiptOf = (parts: readonly { source: string; sourceId: number | null; amount: bigint; units?: bigint | null }[]) =>
  parts.map((part) => `${part.source}#${part.sourceId ?? "-"}:${part.amount}${part.units == null ? "" : `:${part.units}u`}`);

/** The reference model: domain §8 read literally, with no shared code. */
class Model {
  sources: Source[] = [];
  charges: Charge[] = [];
  settlements: Settlement[] = [];
  remainders = new Map<string, bigint>();
  freeMonths = new Map<string, FreeMonth>();
  payg: PaygPart[] = [];
  /** Revit's 3 units a month from the test terms; the complex job has none. In publication order. */
  caps: Cap[] = [{ apiCode: REVIT, units: 3n, from: Date.parse(TERMS_PUBLISHED_AT) }];
  reference = 0;
  private nextKey = 1;

  constructor(public now: number, readonly accounts: Account[]) {}

  account(index: number): Account {
    return this.accounts[index % this.accounts.length]!;
  }

  status(account: Account): "ACTIVE" | "RESTRICTED" {
    return account.deficit > 0n && account.plan !== "PAYG" ? "RESTRICTED" : "ACTIVE";
  }

  balance(account: Account) {
    let flex = 0n;
    for (const source of this.sources) {
      if (source.accountId === account.id && source.startsAt <= this.now && this.now < source.endsAt) flex += source.remaining;
    }
    return { cloudCreditsMicros: 0n, flexTokensMicros: flex, deficitMicros: account.deficit, availableMicros: flex - account.deficit, graceEndsAt: null };
  }

  freeMonth(accountId: number, apiCode: string, month: string): FreeMonth {
    return this.freeMonths.get(`${accountId}|${apiCode}|${month}`) ?? { used: 0n, overrun: 0n, latestAt: null, reaches: new Map() };
  }

  /** The cap in force at t: the one that took effect last, the later published of two at the same instant; none is 0. */
  capAt(apiCode: string, t: number): bigint {
    let units = 0n;
    let from = -Infinity;
    for (const cap of this.caps) if (cap.apiCode === apiCode && cap.from <= t && cap.from >= from) ({ units, from } = cap);
    return units;
  }

  /** Every cap level in force at some instant of the month. */
  levels(apiCode: string, month: string): bigint[] {
    const start = monthStart(month);
    const later = this.caps.filter((cap) => cap.apiCode === apiCode && cap.from > start && cap.from < nextMonthStart(start));
    return [this.capAt(apiCode, start), ...later.map((cap) => cap.units)];
  }

  /** Suspended from the reach of the cap's level; a level no event reached, from the month's latest usage once any unit is used. */
  suspended(state: FreeMonth, cap: bigint, t: number): boolean {
    const reachedAt = state.reaches.get(cap) ?? (state.used > 0n ? state.latestAt : null);
    return state.used >= cap && reachedAt !== null && t >= reachedAt;
  }

  /** New funds pay the deficit first, oldest standing deficit part first, when in their term now. */
  fund(source: Source): void {
    this.sources.push(source);
    const account = this.accounts.find((candidate) => candidate.id === source.accountId)!;
    if (account.deficit === 0n || source.endsAt <= this.now || source.startsAt > this.now) return;
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
  }

  /** Rates one event under the account's plan, or says which refusal it gets; `commit` records it under the real id. */
  usage(event: UsageEvent): { result: Result; commit(id: number): void } {
    const refuse = (code: string) => ({ result: { ok: false as const, code }, commit: () => {} });
    const account = this.accounts.find((candidate) => candidate.id === event.accountId)!;
    const terms = TERMS[event.apiCode]!;
    const billed = event.outcome === "SUCCEEDED";
    const month = monthOf(event.occurredAt);
    const free = account.plan === "FREE";
    const remainderKey = `${account.id}|${event.apiCode}|${free ? month : ""}`;
    const monthKey = `${account.id}|${event.apiCode}|${month}`;
    const state = this.freeMonth(account.id, event.apiCode, month);
    const cap = this.capAt(event.apiCode, event.occurredAt);
    if (free && this.suspended(state, cap, event.occurredAt)) return refuse("API_SUSPENDED");
    if (!free && billed && account.deficit > 0n && account.plan === "PREPAY") return refuse("ACCOUNT_RESTRICTED");
    const total = (this.remainders.get(remainderKey) ?? 0n) + (billed ? event.quantityMicros : 0n);
    const units = billed ? total / terms.unitMicros : 0n;
    const parts: Omit<Part, "key">[] = [];
    let tokens = 0n;
    let freeState: FreeMonth | null = null;
    let owed = 0n;
    if (billed && free) {
      const left = cap > state.used ? cap - state.used : 0n;
      const given = units < left ? units : left;
      const used = state.used + given;
      const latestAt = state.latestAt === null || event.occurredAt > state.latestAt ? event.occurredAt : state.latestAt;
      const reaches = new Map(state.reaches);
      // A level already passed (its cap published since) keeps the month's latest usage before this
      // event; one reached now, the latest usage now. Level 0 is reached by usage, or under a cap of 0.
      for (const level of this.levels(event.apiCode, month)) {
        if (reaches.has(level)) continue;
        if (state.used >= level && state.used > 0n) reaches.set(level, state.latestAt!);
        else if (used >= level && (used > 0n || cap === 0n)) reaches.set(level, latestAt);
      }
      freeState = { used, overrun: state.overrun + units - given, latestAt, reaches };
      if (given > 0n) parts.push({ source: "FREE_ALLOWANCE", sourceId: null, amount: 0n, units: given });
      if (units > given) parts.push({ source: "OVERRUN", sourceId: null, amount: 0n, units: units - given });
    } else if (billed) {
      tokens = units * terms.tokensPerUnit;
      owed = tokens;
      const usable = this.sources
        .filter((s) => s.accountId === account.id && s.remaining > 0n && s.startsAt <= event.occurredAt && event.occurredAt < s.endsAt)
        .sort((a, b) => {
          if (a.kind !== b.kind) return a.kind === "TOKEN_FLEX" ? -1 : 1;
          if (a.endsAt !== b.endsAt) return a.endsAt - b.endsAt;
          if (a.kind === "FLEX_PACK" && a.size !== b.size) return a.size < b.size ? -1 : 1;
          return a.startsAt - b.startsAt || a.id - b.id;
        });
      for (const source of usable) {
        if (owed === 0n) break;
        const take = source.remaining < owed ? source.remaining : owed;
        parts.push({ source: source.kind, sourceId: source.id, amount: take, units: null });
        owed -= take;
      }
      if (owed > 0n && account.plan === "PAYG") {
        parts.push({ source: "PAYG", sourceId: null, amount: owed, units: (owed + terms.tokensPerUnit - 1n) / terms.tokensPerUnit });
      } else if (owed > 0n) {
        parts.push({ source: "DEFICIT", sourceId: null, amount: owed, units: null });
      }
    }
    return {
      result: { ok: true, units, tokens, receipt: receiptOf(parts) },
      commit: (id) => {
        if (billed) this.remainders.set(remainderKey, total % terms.unitMicros);
        if (freeState) this.freeMonths.set(monthKey, freeState);
        for (const part of parts) {
          if (part.source === "TOKEN_FLEX" || part.source === "FLEX_PACK") this.sources.find((s) => s.kind === part.source && s.id === part.sourceId)!.remaining -= part.amount;
          if (part.source === "DEFICIT") account.deficit += part.amount;
        }
        const paygPart = parts.find((part) => part.source === "PAYG");
        const paygMonth = paygPart ? statementMonth(month, this.now) : null;
        if (paygPart) this.payg.push({ accountId: account.id, month: paygMonth!, apiCode: event.apiCode, units: paygPart.units!, tokens: paygPart.amount });
        this.charges.push({ id, event, units, tokens, parts: parts.map((part) => ({ ...part, key: this.nextKey++ })), reversed: false, paygMonth });
      },
    };
  }

  /** Tokens back to their sources, free units back to their month, PAYG back as a negative part; remainders stay. */
  reverse(charge: Charge): boolean {
    if (charge.reversed) return false;
    const account = this.accounts.find((candidate) => candidate.id === charge.event.accountId)!;
    const month = monthOf(charge.event.occurredAt);
    for (const part of charge.parts) {
      if (part.source === "TOKEN_FLEX" || part.source === "FLEX_PACK") {
        this.sources.find((s) => s.kind === part.source && s.id === part.sourceId)!.remaining += part.amount;
      } else if (part.source === "DEFICIT") {
        let settled = 0n;
        for (const settlement of this.settlements.filter((s) => s.partKey === part.key)) {
          this.sources.find((s) => s.kind === settlement.kind && s.id === settlement.sourceId)!.remaining += settlement.amount;
          settled += settlement.amount;
        }
        account.deficit -= part.amount - settled;
      } else if (part.source === "FREE_ALLOWANCE" || part.source === "OVERRUN") {
        const key = `${account.id}|${charge.event.apiCode}|${month}`;
        const state = this.freeMonths.get(key)!;
        const { used, overrun } = part.source === "FREE_ALLOWANCE" ? { ...state, used: state.used - part.units! } : { ...state, overrun: state.overrun - part.units! };
        // A level the used units no longer reach is gone; level 0 too once no unit is left.
        const reached = (level: bigint) => level <= used && (level > 0n || used + overrun > 0n);
        this.freeMonths.set(key, { ...state, used, overrun, reaches: new Map([...state.reaches].filter(([level]) => reached(level))) });
      } else if (part.source === "PAYG") {
        this.payg.push({ accountId: account.id, month: statementMonth(charge.paygMonth!, this.now), apiCode: charge.event.apiCode, units: -part.units!, tokens: -part.amount });
      }
    }
    charge.reversed = true;
    return true;
  }

  /** freeUsage(current month) of a FREE account: every API with a cap or usage, used never above the cap. */
  freeUsage(account: Account) {
    const month = monthOf(this.now);
    return Object.keys(TERMS)
      .sort()
      .flatMap((apiCode) => {
        const cap = this.capAt(apiCode, this.now);
        const stored = this.freeMonths.get(`${account.id}|${apiCode}|${month}`);
        if (cap === 0n && !stored) return [];
        const state = stored ?? this.freeMonth(account.id, apiCode, month);
        const used = state.used < cap ? state.used : cap;
        return [{ apiCode, capUnits: cap, usedUnits: used, overrunUnits: state.overrun + state.used - used, suspendedUntil: this.suspended(state, cap, this.now) ? nextMonthStart(this.now) : null }];
      });
  }
}

const codeOf = async (work: () => unknown): Promise<string | null> => {
  try {
    await work();
    return null;
  } catch (error) {
    if (error instanceof FlexgateError) return error.code;
    throw error;
  }
};

async function expectSameState(model: Model, h: Harness): Promise<void> {
  const { services } = h;
  // findMany promises no order: PostgreSQL returns an updated row where it now lies.
  const real = (await services.accounts.findMany(model.accounts.map((account) => account.id))).sort((a, b) => a.id - b.id);
  const [balances, statuses] = [await services.accounts.balances(real), await services.accounts.statuses(real)];
  expect(real.map((account, index) => ({ id: account.id, status: statuses[index], ...balances[index] }))).toEqual(
    model.accounts.map((account) => ({ id: account.id, status: model.status(account), ...model.balance(account) })),
  );
  const sourceRows = await h.sql.rows<{ kind: string; id: number; remaining: number }>(
    "select 'FLEX_PACK' as kind, id, remaining_micros as remaining from flex_packs union all select 'TOKEN_FLEX', id, remaining_micros from token_flex_pools order by 1, 2",
  );
  expect(sourceRows.map((row) => `${row.kind}#${row.id}=${row.remaining}`)).toEqual(
    [...model.sources].sort((a, b) => a.kind.localeCompare(b.kind) || a.id - b.id).map((s) => `${s.kind}#${s.id}=${s.remaining}`),
  );
  const charges = await services.ledger.allocations(model.charges.map((charge) => charge.id));
  const stored = await Promise.all(model.charges.map((charge) => h.store.reads.findCharge(charge.id)));
  expect(
    stored.map((charge) => ({
      id: charge!.id,
      units: charge!.units,
      tokens: charge!.tokensMicros,
      reversed: charge!.reversedAt !== null,
      receipt: receiptOf((charges.get(charge!.id) ?? []).map((part) => ({ source: part.source, sourceId: part.creditLotId ?? part.tokenFlexPoolId ?? part.flexPackId, amount: part.amountMicros, units: part.units }))),
    })),
  ).toEqual(model.charges.map((charge) => ({ id: charge.id, units: charge.units, tokens: charge.tokens, reversed: charge.reversed, receipt: receiptOf(charge.parts) })));
  const freeAccount = model.accounts.find((account) => account.plan === "FREE")!;
  expect(await services.tiered.freeUsage(freeAccount.id)).toEqual(model.freeUsage(freeAccount));
  for (const account of model.accounts.filter((candidate) => candidate.plan === "PAYG")) {
    for (const month of new Set(model.payg.filter((part) => part.accountId === account.id).map((part) => part.month))) {
      const parts = model.payg.filter((part) => part.accountId === account.id && part.month === month);
      const statement = await services.tiered.paygStatement(account.id, month);
      expect([statement.tokensMicros, statement.lines.map((line) => `${line.apiCode}:${line.units}:${line.tokensMicros}`)]).toEqual([
        parts.reduce((sum, part) => sum + part.tokens, 0n),
        [...new Set(parts.map((part) => part.apiCode))].sort().map((apiCode) => {
          const of = parts.filter((part) => part.apiCode === apiCode);
          return `${apiCode}:${of.reduce((sum, part) => sum + part.units, 0n)}:${of.reduce((sum, part) => sum + part.tokens, 0n)}`;
        }),
      ]);
    }
  }
  expect(await services.ledger.verify()).toEqual([]);
}

interface UsageSpec { account: number; apiCode: string; quantityMicros: bigint; outcome: Outcome; minutesBack: number }

function eventOf(model: Model, spec: UsageSpec): UsageEvent {
  return {
    eventId: `tiered-event-${++model.reference}`,
    accountId: model.account(spec.account).id,
    apiCode: spec.apiCode,
    quantityMicros: spec.quantityMicros,
    outcome: spec.outcome,
    // Every account is enrolled from START: usage before it would be LEGACY, the other model's.
    occurredAt: Math.max(START, model.now - spec.minutesBack * MINUTE),
  };
}

const describeSpec = (spec: UsageSpec) => `${spec.apiCode} ×${Number(spec.quantityMicros) / 1e6} ${spec.outcome} on #${spec.account} ${spec.minutesBack} min ago`;
const quoted = (allocations: readonly Allocation[]) =>
  receiptOf(allocations.map((part) => ({ source: part.source, sourceId: part.sourceId, amount: part.amountMicros, units: part.units ?? null })));

class RecordUsage implements fc.AsyncCommand<Model, Harness> {
  constructor(readonly spec: UsageSpec) {}
  check = () => true;
  async run(model: Model, h: Harness) {
    const event = eventOf(model, this.spec);
    const expected = model.usage(event);
    let quote: Awaited<ReturnType<Harness["services"]["rating"]["quoteUsage"]>> | undefined;
    const quoteCode = await codeOf(async () => (quote = await h.services.rating.quoteUsage(event)));
    expect(quote ? { ok: true, units: quote.units, tokens: quote.tokensMicros, receipt: quoted(quote.allocations) } : { ok: false, code: quoteCode }).toEqual(
      expected.result.ok ? { ...expected.result, receipt: expected.result.receipt } : expected.result,
    );
    let recorded: Awaited<ReturnType<Harness["services"]["rating"]["recordUsage"]>> | undefined;
    const code = await codeOf(async () => (recorded = await h.services.rating.recordUsage(event)));
    expect(recorded ? { ok: true, units: recorded.charge.units, tokens: recorded.charge.tokensMicros } : { ok: false, code }).toEqual(
      expected.result.ok ? { ok: true, units: expected.result.units, tokens: expected.result.tokens } : expected.result,
    );
    if (recorded) expected.commit(recorded.charge.id);
    await expectSameState(model, h);
  }
  toString = () => `recordUsage(${describeSpec(this.spec)})`;
}

/** A group decides each event as one by one would, each seeing the ones before it. */
class RecordBatch implements fc.AsyncCommand<Model, Harness> {
  constructor(readonly specs: readonly UsageSpec[]) {}
  check = () => true;
  async run(model: Model, h: Harness) {
    const events = this.specs.map((spec) => eventOf(model, spec));
    const results = await h.services.rating.recordUsageBatch(events);
    events.forEach((event, index) => {
      const expected = model.usage(event);
      const result = results[index]!;
      expect(result.error ? { ok: false, code: result.error.code } : { ok: true, units: result.charge.units, tokens: result.charge.tokensMicros }).toEqual(
        expected.result.ok ? { ok: true, units: expected.result.units, tokens: expected.result.tokens } : expected.result,
      );
      if (!result.error) expected.commit(result.charge.id);
    });
    await expectSameState(model, h);
  }
  toString = () => `recordUsageBatch([${this.specs.map(describeSpec).join("; ")}])`;
}

class ImportPool implements fc.AsyncCommand<Model, Harness> {
  constructor(readonly accountIndex: number, readonly tokens: number, readonly daysBack: number, readonly days: number) {}
  check = () => true;
  async run(model: Model, h: Harness) {
    const account = model.account(this.accountIndex);
    const startsAt = Math.floor(model.now / DAY) * DAY - this.daysBack * DAY;
    const endsAt = startsAt + this.days * DAY;
    const size = BigInt(this.tokens) * M;
    const pool = await h.services.funding.importTokenFlexPool({ accountId: account.id, tokensMicros: size, startsAt, endsAt, externalRef: `EBA-${++model.reference}` }, OPERATOR);
    model.fund({ kind: "TOKEN_FLEX", id: pool.id, accountId: account.id, size, remaining: size, startsAt, endsAt });
    await expectSameState(model, h);
  }
  toString = () => `importPool(#${this.accountIndex}, ${this.tokens}, from ${this.daysBack} days ago for ${this.days} days)`;
}

class BuyPack implements fc.AsyncCommand<Model, Harness> {
  constructor(readonly accountIndex: number, readonly tokens: number, readonly daysBack: number) {}
  check = () => true;
  async run(model: Model, h: Harness) {
    const account = model.account(this.accountIndex);
    const purchasedAt = Math.floor(model.now / DAY) * DAY - this.daysBack * DAY;
    const size = BigInt(this.tokens) * M;
    const pack = await h.services.funding.recordFlexPurchase({ accountId: account.id, tokensMicros: size, purchasedAt, channel: "ESTORE", orderRef: `order-${++model.reference}` }, OPERATOR);
    const end = new Date(purchasedAt);
    model.fund({ kind: "FLEX_PACK", id: pack.id, accountId: account.id, size, remaining: size, startsAt: purchasedAt, endsAt: Date.UTC(end.getUTCFullYear() + 1, end.getUTCMonth(), end.getUTCDate()) });
    await expectSameState(model, h);
  }
  toString = () => `buyPack(#${this.accountIndex}, ${this.tokens}, ${this.daysBack} days ago)`;
}

class Reverse implements fc.AsyncCommand<Model, Harness> {
  constructor(readonly chargeIndex: number) {}
  check = (model: Readonly<Model>) => model.charges.length > 0;
  async run(model: Model, h: Harness) {
    const charge = model.charges[this.chargeIndex % model.charges.length]!;
    const ok = model.reverse(charge);
    expect(await codeOf(() => h.services.rating.reverseCharge(charge.id, "model-based reversal", OPERATOR))).toBe(ok ? null : "BAD_USER_INPUT");
    await expectSameState(model, h);
  }
  toString = () => `reverse(charge ${this.chargeIndex})`;
}

/**
 * An operator changes revit's cap, now or on a later day; the model's caps follow. A start at or
 * before revit usage already rated, reversed or not, is refused: that usage keeps the cap it had.
 */
class PublishCap implements fc.AsyncCommand<Model, Harness> {
  constructor(readonly units: number, readonly daysAhead: number) {}
  check = () => true;
  async run(model: Model, h: Harness) {
    const from = model.now + this.daysAhead * DAY;
    const ratedSince = model.charges.some((charge) => charge.event.apiCode === REVIT && charge.event.occurredAt >= from);
    const code = await codeOf(() => h.services.tiered.publishFreeCap({ apiCode: REVIT, unitsPerMonth: this.units, effectiveFrom: from, note: "model-based cap" }, OPERATOR));
    expect(code).toBe(ratedSince ? "PRICE_CHANGE_IN_PAST" : null);
    if (!ratedSince) model.caps.push({ apiCode: REVIT, units: BigInt(this.units), from });
    await expectSameState(model, h);
  }
  toString = () => `publishCap(revit, ${this.units}, in ${this.daysAhead} days)`;
}

class Advance implements fc.AsyncCommand<Model, Harness> {
  constructor(readonly ms: number) {}
  check = () => true;
  async run(model: Model, h: Harness) {
    model.now += this.ms;
    h.advance(this.ms);
    await expectSameState(model, h);
  }
  toString = () => `advance(${(this.ms / DAY).toFixed(2)} days)`;
}

const accountIndex = fc.nat({ max: 2 });
const usageSpec: fc.Arbitrary<UsageSpec> = fc.oneof(
  fc.record({
    account: accountIndex,
    apiCode: fc.constant(REVIT),
    quantityMicros: fc.oneof(fc.constantFrom(0n, 600n * M, 1200n * M, 1500n * M, 3600n * M), fc.bigInt({ min: 0n, max: 5000n * M })),
    outcome: fc.constantFrom<Outcome>("SUCCEEDED", "SUCCEEDED", "SUCCEEDED", "FAILED"),
    minutesBack: fc.oneof({ arbitrary: fc.integer({ min: 0, max: 2 * 24 * 60 }), weight: 3 }, { arbitrary: fc.integer({ min: 0, max: 40 * 24 * 60 }), weight: 1 }),
  }),
  fc.record({
    account: accountIndex,
    apiCode: fc.constant(COMPLEX),
    quantityMicros: fc.integer({ min: 0, max: 12 }).map((n) => BigInt(n) * M),
    outcome: fc.constantFrom<Outcome>("SUCCEEDED", "SUCCEEDED", "CANCELLED"),
    minutesBack: fc.integer({ min: 0, max: 2 * 24 * 60 }),
  }),
);

const commands = fc.commands<Model, Harness, false>(
  [
    usageSpec.map((spec) => new RecordUsage(spec)),
    usageSpec.map((spec) => new RecordUsage(spec)),
    usageSpec.map((spec) => new RecordUsage(spec)),
    fc.array(usageSpec, { minLength: 2, maxLength: 4 }).map((specs) => new RecordBatch(specs)),
    fc.tuple(accountIndex, fc.integer({ min: 1, max: 40 }), fc.integer({ min: 0, max: 30 }), fc.integer({ min: 1, max: 90 })).map(([a, tokens, back, days]) => new ImportPool(a, tokens, back, days)),
    fc.tuple(accountIndex, fc.integer({ min: 100, max: 200 }), fc.integer({ min: 0, max: 60 })).map(([a, tokens, back]) => new BuyPack(a, tokens, back)),
    fc.nat().map((index) => new Reverse(index)),
    fc.tuple(fc.integer({ min: 0, max: 6 }), fc.constantFrom(0, 0, 1, 5, 12)).map(([units, days]) => new PublishCap(units, days)),
    fc.oneof(fc.integer({ min: MINUTE, max: 2 * DAY }), fc.integer({ min: 10 * DAY, max: 35 * DAY })).map((ms) => new Advance(ms)),
  ],
  { maxCommands: 40, size: "+1" },
);

it("agrees with a plain model of the tiered rule book after every step of random command sequences", async () => {
  const reached = { suspended: 0, capChangedMidMonth: 0, restricted: 0, payg: 0, overrun: 0, settled: 0, reversedTiered: 0, runs: 0 };
  await fc.assert(
    fc.asyncProperty(commands, async (sequence) => {
      const h = await createHarness({ now: "2025-12-01T00:00:00Z" });
      try {
        await publishTestTerms(h);
        h.setNow(START);
        const accounts: Account[] = [];
        for (const [n, plan] of (["FREE", "PREPAY", "PAYG"] as const).entries()) {
          const { id } = await h.services.accounts.create({ name: `Tiered model ${n}`, country: "JP" }, OPERATOR);
          await h.services.tiered.enrollPlan({ accountId: id, tier: plan === "FREE" ? "FREE" : "PAID", payg: plan === "PAYG", effectiveFrom: START }, OPERATOR);
          accounts.push({ id, plan, deficit: 0n });
        }
        const model = new Model(h.now(), accounts);
        await fc.asyncModelRun(() => ({ model, real: h }), sequence);
        reached.runs++;
        if ([...model.freeMonths.values()].some((state) => state.reaches.size > 0)) reached.suspended++;
        const revitMonths = [...model.freeMonths.keys()].map((key) => key.split("|")).filter(([, apiCode]) => apiCode === REVIT);
        if (revitMonths.some(([, , month]) => new Set(model.levels(REVIT, month!)).size > 1)) reached.capChangedMidMonth++;
        if (model.charges.some((charge) => charge.parts.some((part) => part.source === "OVERRUN"))) reached.overrun++;
        if (model.charges.some((charge) => charge.parts.some((part) => part.source === "DEFICIT"))) reached.restricted++;
        if (model.payg.length > 0) reached.payg++;
        if (model.settlements.length > 0) reached.settled++;
        if (model.charges.some((charge) => charge.reversed && charge.units > 0n)) reached.reversedTiered++;
      } finally {
        h.close();
      }
    }),
    { numRuns: 60, endOnFailure: false },
  );
  console.info(`model-based tiered: ${JSON.stringify(reached)}`);
  // The generators must reach the interesting corners, or agreement proves little.
  for (const corner of ["suspended", "capChangedMidMonth", "restricted", "payg", "overrun", "settled", "reversedTiered"] as const) expect(reached[corner], corner).toBeGreaterThan(0);
}, 600_000);
