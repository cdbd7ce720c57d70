import { badInput, FlexgateError, notFound } from "../core/errors.js";
import { MAXIMA } from "../core/maxima.js";
import { MAX_TOKENS_MICROS } from "../core/money.js";
import type { Actor } from "../core/model.js";
import { type Meter, METERS, type Outcome, OUTCOMES, type PriceStatus, type PriceVersion, effectiveTo, priceInForce, priceStatus } from "../core/price.js";
import { cleanApiCode, cleanText, requirePositiveInt } from "../core/text.js";
import { formatInstant, type Instant, MAX_FUTURE_SKEW_MS } from "../core/time.js";
import type { NewPriceVersion, StoreReads } from "../store/port.js";
import type { ServiceContext } from "./context.js";

export interface PricePublication {
  readonly apiCode: string;
  readonly name?: string | null;
  readonly meter: Meter;
  readonly unitQuantity: number;
  readonly tokensPerUnitMicros: bigint;
  readonly chargeableOutcomes?: readonly Outcome[] | null;
  /** Defaults to now; never in the past. */
  readonly effectiveFrom?: Instant | null;
  readonly note: string;
}

/** A version to append, its start null for now: resolved in the write unit (startOfChange). */
type UnstartedVersion = Omit<NewPriceVersion, "effectiveFrom" | "publishedBy" | "publishedAt"> & { readonly effectiveFrom: Instant | null };

/** A version together with what depends on its neighbours: its end and its status now. */
export interface PriceEntryView extends PriceVersion {
  readonly effectiveTo: Instant | null;
  readonly status: PriceStatus;
}

const MAX_UNIT_QUANTITY = 1_000_000_000;

/**
 * The price book holds at most MAXIMA.pricedApis codes of MAXIMA.versionsPerApi versions each,
 * so priceVersions, priceHistory and priceTable stay bounded (core/maxima.ts).
 * @throws FlexgateError BAD_USER_INPUT naming `field`.apiCode
 */
async function assertRoomForVersion(reads: StoreReads, apiCode: string, versionsOfCode: number, field: string): Promise<void> {
  const codeField = `${field ? `${field}.` : ""}apiCode`;
  if (versionsOfCode >= MAXIMA.versionsPerApi) {
    throw badInput(codeField, `${apiCode} already has ${MAXIMA.versionsPerApi} versions, the most one API may have`);
  }
  if (versionsOfCode === 0 && (await reads.priceTable()).size >= MAXIMA.pricedApis) {
    throw badInput(codeField, `the price book already holds ${MAXIMA.pricedApis} APIs, the most it may hold`);
  }
}

/**
 * When a change of an API's terms (a version, a retirement, a free cap) starts. Run in the write
 * unit that appends the change: its lock on the API code, which every rating group of the API
 * takes shared (pg/rating.ts, sharedPriceLocks; SQLite has one writer), keeps usage of the API
 * from being rated meanwhile. Events may be dated up to MAX_FUTURE_SKEW_MS ahead, and each charge
 * must stay explained by the terms in force at its occurredAt (domain §2). So a start asked for
 * (`requested`) at or before usage already rated is refused, and none asked for means now, or
 * just after usage of the API already rated ahead of now.
 * @throws FlexgateError PRICE_CHANGE_IN_PAST naming `field`
 */
export async function startOfChange(tx: StoreReads, apiCode: string, requested: Instant | null, now: Instant, field: string, terms: string): Promise<Instant> {
  const rated = await tx.latestApiChargeOccurredAt(apiCode, requested ?? now);
  if (rated === null) return requested ?? now;
  if (requested === null) return rated + 1;
  throw new FlexgateError(
    "PRICE_CHANGE_IN_PAST",
    `usage of ${apiCode} dated ${formatInstant(rated)} is already rated with the ${terms} in force then; a change may take effect after it`,
    field,
  );
}

/** The effective-dated, append-only price table. */
export class PriceService {
  constructor(private readonly context: ServiceContext) {}

  /** The versions in force at `asOf` (default now), one per API code that has a price then. */
  async priceTable(asOf?: Instant | null): Promise<PriceEntryView[]> {
    const at = asOf ?? this.context.clock();
    const table: PriceEntryView[] = [];
    for (const versions of (await this.context.store.reads.priceTable()).values()) {
      const current = priceInForce(versions, at);
      if (current) table.push(this.view(current, versions));
    }
    return table;
  }

  /** Every version of every API code, scheduled and cancelled ones included, oldest first. */
  async allVersions(): Promise<PriceEntryView[]> {
    return [...(await this.context.store.reads.priceTable()).values()].flatMap((versions) => versions.map((version) => this.view(version, versions)));
  }

  /** Every version of one API code, oldest first. */
  async history(apiCode: string): Promise<PriceEntryView[]> {
    const versions = await this.context.store.reads.priceVersionsOf(cleanApiCode(apiCode, "apiCode"));
    return versions.map((version) => this.view(version, versions));
  }

  /** Who cancelled version `id` and why; null when it is not cancelled. */
  cancellation(id: number): Promise<{ cancelledBy: string; reason: string; cancelledAt: Instant } | null> {
    return this.context.store.reads.findPriceCancellation(id);
  }

  async find(id: number): Promise<PriceEntryView | null> {
    return this.context.store.snapshot(async (reads) => {
      const version = await reads.findPriceVersion(id);
      return version ? this.view(version, await reads.priceVersionsOf(version.apiCode)) : null;
    });
  }

  /**
   * Publishes a new version; past charges keep the version they were rated with.
   * @throws FlexgateError BAD_USER_INPUT, PRICE_CHANGE_IN_PAST
   */
  async publish(input: PricePublication, actor: Actor, field = "input"): Promise<PriceEntryView> {
    const version = await this.validate(input, field);
    return this.append({ ...version, retired: false }, actor, field, "price.publish");
  }

  /**
   * Retires an API from `effectiveFrom` (default now): later usage for it is PRICE_NOT_FOUND.
   * @throws FlexgateError BAD_USER_INPUT, NOT_FOUND, PRICE_CHANGE_IN_PAST
   */
  async retire(apiCodeInput: string, effectiveFrom: Instant | null | undefined, note: string, actor: Actor): Promise<PriceEntryView> {
    const apiCode = cleanApiCode(apiCodeInput, "apiCode");
    const now = this.context.clock();
    // A backdated retirement would turn already-rated and late usage into PRICE_NOT_FOUND.
    if (effectiveFrom != null && effectiveFrom < now) {
      throw new FlexgateError("PRICE_CHANGE_IN_PAST", "a retirement takes effect now or later, never in the past", "effectiveFrom");
    }
    const current = priceInForce(await this.context.store.reads.priceVersionsOf(apiCode), effectiveFrom ?? now);
    if (!current) throw notFound(`a price for ${apiCode}`, "apiCode");
    return this.append(
      {
        apiCode,
        name: current.name,
        meter: current.meter,
        unitQuantity: current.unitQuantity,
        tokensPerUnitMicros: 0n,
        chargeableOutcomes: [],
        effectiveFrom: effectiveFrom ?? null,
        note: cleanText(note, "note", { max: 2000 }),
        retired: true,
      },
      actor,
      "",
      "price.retire",
    );
  }

  /**
   * Cancels a version that takes effect more than 5 minutes from now.
   * @throws FlexgateError NOT_FOUND, PRICE_CHANGE_IN_PAST (in effect or starting within 5 minutes), BAD_USER_INPUT
   */
  async cancelScheduled(id: number, reason: string, actor: Actor): Promise<PriceEntryView> {
    const why = cleanText(reason, "reason", { max: 2000 });
    // The API code to lock is the version's; the unit reads the version again under the lock.
    const found = await this.context.store.reads.findPriceVersion(id);
    if (!found) throw notFound("price entry", "id");
    return this.context.store.write({ apiCodes: [found.apiCode] }, async (tx) => {
      const version = (await tx.findPriceVersion(id))!;
      if (version.cancelledAt !== null) throw badInput("id", "this price version is already cancelled");
      const now = this.context.clock();
      // Events may be dated up to MAX_FUTURE_SKEW_MS ahead and are rated by the version in force
      // then: a version starting sooner may already have rated one, and no charge may point at a
      // cancelled version. Retirement markers are versions too and follow the same rule.
      if (version.effectiveFrom <= now + MAX_FUTURE_SKEW_MS) {
        throw new FlexgateError(
          "PRICE_CHANGE_IN_PAST",
          version.effectiveFrom <= now
            ? "this price version is already in effect and cannot be cancelled"
            : "this price version takes effect in less than 5 minutes, and usage dated up to 5 minutes ahead may already be rated with it: it can no longer be cancelled",
          "id",
        );
      }
      // The ledger decides too: a replica whose clock is behind another's may find a version
      // more than 5 minutes away by its own clock that the other has already rated usage with.
      const rated = await tx.latestApiChargeOccurredAt(version.apiCode, version.effectiveFrom);
      if (rated !== null) {
        throw new FlexgateError(
          "PRICE_CHANGE_IN_PAST",
          `usage of ${version.apiCode} dated ${formatInstant(rated)} is already rated with this version or a later one: it can no longer be cancelled`,
          "id",
        );
      }
      await tx.insertPriceCancellation(id, why, actor.name, now);
      const versions = await tx.priceVersionsOf(version.apiCode);
      const after = this.view({ ...version, cancelledAt: now }, versions);
      await tx.appendAudit(actor, { action: "price.cancel", entityType: "PriceEntry", entityId: id, before: this.view(version, versions.map((v) => (v.id === id ? version : v))), after: { ...after, reason: why } }, now);
      return after;
    });
  }

  /** Checks a publication; returns the version to write (without the retirement flag), its start null for now. */
  async validate(input: PricePublication, field: string): Promise<Omit<UnstartedVersion, "retired">> {
    const prefix = field ? `${field}.` : "";
    const apiCode = cleanApiCode(input.apiCode, `${prefix}apiCode`);
    if (!METERS.includes(input.meter)) throw badInput(`${prefix}meter`, "unknown meter");
    const outcomes = input.chargeableOutcomes ?? ["SUCCEEDED"];
    if (outcomes.some((outcome) => !OUTCOMES.includes(outcome)) || new Set(outcomes).size !== outcomes.length) {
      throw badInput(`${prefix}chargeableOutcomes`, "chargeableOutcomes must list distinct outcomes");
    }
    if (input.tokensPerUnitMicros < 0n || input.tokensPerUnitMicros > MAX_TOKENS_MICROS) {
      throw badInput(`${prefix}tokensPerUnit`, "tokensPerUnit is out of range");
    }
    const effectiveFrom = input.effectiveFrom ?? null;
    if (effectiveFrom !== null && effectiveFrom < this.context.clock()) {
      throw new FlexgateError("PRICE_CHANGE_IN_PAST", "a price change takes effect now or later, never in the past", `${prefix}effectiveFrom`);
    }
    const name = input.name == null ? null : cleanText(input.name, `${prefix}name`, { max: 200 });
    return {
      apiCode,
      name: name ?? (await this.currentName(apiCode)) ?? apiCode,
      meter: input.meter,
      unitQuantity: requirePositiveInt(input.unitQuantity, `${prefix}unitQuantity`, MAX_UNIT_QUANTITY),
      tokensPerUnitMicros: input.tokensPerUnitMicros,
      chargeableOutcomes: OUTCOMES.filter((outcome) => outcomes.includes(outcome)),
      effectiveFrom,
      note: cleanText(input.note, `${prefix}note`, { max: 2000 }),
    };
  }

  private async append(unstarted: UnstartedVersion, actor: Actor, field: string, action: string): Promise<PriceEntryView> {
    const { apiCode } = unstarted;
    return this.context.store.write({ apiCodes: [apiCode], priceBookCodes: true }, async (tx) => {
      const versions = await tx.priceVersionsOf(apiCode);
      await assertRoomForVersion(tx, apiCode, versions.length, field);
      const now = this.context.clock();
      const startField = `${field ? `${field}.` : ""}effectiveFrom`;
      const effectiveFrom = await startOfChange(tx, apiCode, unstarted.effectiveFrom, now, startField, "version");
      const clash = versions.find((other) => other.cancelledAt === null && other.effectiveFrom === effectiveFrom);
      if (clash) {
        throw badInput(startField, `version ${clash.id} of ${apiCode} already takes effect at ${formatInstant(clash.effectiveFrom)}; cancel it first`);
      }
      const created = await tx.insertPriceVersion({ ...unstarted, effectiveFrom, publishedBy: actor.name, publishedAt: now });
      const view = this.view(created, [...versions, created]);
      await tx.appendAudit(actor, { action, entityType: "PriceEntry", entityId: created.id, before: null, after: view }, now);
      return view;
    });
  }

  private async currentName(apiCode: string): Promise<string | null> {
    const versions = await this.context.store.reads.priceVersionsOf(apiCode);
    return versions.at(-1)?.name ?? null;
  }

  private view(version: PriceVersion, versions: readonly PriceVersion[]): PriceEntryView {
    return { ...version, effectiveTo: effectiveTo(version, versions), status: priceStatus(version, versions, this.context.clock()) };
  }
}
