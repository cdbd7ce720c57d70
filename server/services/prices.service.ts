import { badInput, FlexgateError, notFound } from "../core/errors.js";
import { MAXIMA } from "../core/maxima.js";
import { MAX_TOKENS_MICROS } from "../core/money.js";
import type { Actor } from "../core/model.js";
import { type Meter, METERS, type Outcome, OUTCOMES, type PriceStatus, type PriceVersion, effectiveTo, priceInForce, priceStatus } from "../core/price.js";
import { cleanApiCode, cleanText, requirePositiveInt } from "../core/text.js";
import { formatInstant, type Instant, MAX_FUTURE_SKEW_MS } from "../core/time.js";
import { appendAudit } from "../store/audit.store.js";
import { inTransaction, type Tx } from "../store/database.js";
import { allPriceVersions, findPriceCancellation, findPriceVersion, insertPriceCancellation, insertPriceVersion, priceVersionsOf } from "../store/prices.store.js";
import type { ServiceContext } from "./context.js";
import type { PriceBook } from "./price-book.js";

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

/** A version together with what depends on its neighbours: its end and its status now. */
export interface PriceEntryView extends PriceVersion {
  readonly effectiveTo: Instant | null;
  readonly status: PriceStatus;
}

const MAX_UNIT_QUANTITY = 1_000_000_000;

/** The effective-dated, append-only price table. */
/**
 * The price book holds at most MAXIMA.pricedApis codes of MAXIMA.versionsPerApi versions each,
 * so priceVersions, priceHistory and priceTable stay bounded (core/maxima.ts).
 * @throws FlexgateError BAD_USER_INPUT naming `field`.apiCode
 */
function assertRoomForVersion(tx: Tx, apiCode: string, versionsOfCode: number, field: string): void {
  const codeField = `${field ? `${field}.` : ""}apiCode`;
  if (versionsOfCode >= MAXIMA.versionsPerApi) {
    throw badInput(codeField, `${apiCode} already has ${MAXIMA.versionsPerApi} versions, the most one API may have`);
  }
  if (versionsOfCode === 0 && new Set(allPriceVersions(tx).map((entry) => entry.apiCode)).size >= MAXIMA.pricedApis) {
    throw badInput(codeField, `the price book already holds ${MAXIMA.pricedApis} APIs, the most it may hold`);
  }
}

export class PriceService {
  constructor(
    private readonly context: ServiceContext,
    private readonly book: PriceBook,
  ) {}

  /** The versions in force at `asOf` (default now), one per API code that has a price then. */
  priceTable(asOf?: Instant | null): PriceEntryView[] {
    const at = asOf ?? this.context.clock();
    const table: PriceEntryView[] = [];
    for (const versions of this.book.all(this.context.db).values()) {
      const current = priceInForce(versions, at);
      if (current) table.push(this.view(current, versions));
    }
    return table;
  }

  /** Every version of every API code, scheduled and cancelled ones included, oldest first. */
  allVersions(): PriceEntryView[] {
    return [...this.book.all(this.context.db).values()].flatMap((versions) => versions.map((version) => this.view(version, versions)));
  }

  /** Every version of one API code, oldest first. */
  history(apiCode: string): PriceEntryView[] {
    const versions = priceVersionsOf(this.context.db, cleanApiCode(apiCode, "apiCode"));
    return versions.map((version) => this.view(version, versions));
  }

  /** Who cancelled version `id` and why; null when it is not cancelled. */
  cancellation(id: number): { cancelledBy: string; reason: string; cancelledAt: Instant } | null {
    return findPriceCancellation(this.context.db, id);
  }

  find(id: number): PriceEntryView | null {
    const version = findPriceVersion(this.context.db, id);
    return version ? this.view(version, priceVersionsOf(this.context.db, version.apiCode)) : null;
  }

  /**
   * Publishes a new version; past charges keep the version they were rated with.
   * @throws FlexgateError BAD_USER_INPUT, PRICE_CHANGE_IN_PAST
   */
  publish(input: PricePublication, actor: Actor, field = "input"): PriceEntryView {
    const version = this.validate(input, field);
    return this.append({ ...version, retired: false }, actor, field, "price.publish");
  }

  /**
   * Retires an API from `effectiveFrom` (default now): later usage for it is PRICE_NOT_FOUND.
   * @throws FlexgateError BAD_USER_INPUT, NOT_FOUND, PRICE_CHANGE_IN_PAST
   */
  retire(apiCodeInput: string, effectiveFrom: Instant | null | undefined, note: string, actor: Actor): PriceEntryView {
    const apiCode = cleanApiCode(apiCodeInput, "apiCode");
    const now = this.context.clock();
    const at = effectiveFrom ?? now;
    // A backdated retirement would turn already-rated and late usage into PRICE_NOT_FOUND.
    if (at < now) {
      throw new FlexgateError("PRICE_CHANGE_IN_PAST", "a retirement takes effect now or later, never in the past", "effectiveFrom");
    }
    const current = priceInForce(priceVersionsOf(this.context.db, apiCode), at);
    if (!current) throw notFound(`a price for ${apiCode}`, "apiCode");
    return this.append(
      {
        apiCode,
        name: current.name,
        meter: current.meter,
        unitQuantity: current.unitQuantity,
        tokensPerUnitMicros: 0n,
        chargeableOutcomes: [],
        effectiveFrom: at,
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
  cancelScheduled(id: number, reason: string, actor: Actor): PriceEntryView {
    const why = cleanText(reason, "reason", { max: 2000 });
    return inTransaction(this.context.db, "immediate", (tx) => {
      const version = findPriceVersion(tx, id);
      if (!version) throw notFound("price entry", "id");
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
      insertPriceCancellation(tx, id, why, actor.name, now);
      const versions = priceVersionsOf(tx, version.apiCode);
      const after = this.view({ ...version, cancelledAt: now }, versions);
      appendAudit(tx, actor, { action: "price.cancel", entityType: "PriceEntry", entityId: id, before: this.view(version, versions.map((v) => (v.id === id ? version : v))), after: { ...after, reason: why } }, now);
      return after;
    });
  }

  /** Checks a publication; returns the version to write (without the retirement flag). */
  validate(input: PricePublication, field: string): Omit<Parameters<typeof insertPriceVersion>[1], "retired" | "publishedBy" | "publishedAt"> {
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
    const now = this.context.clock();
    const effectiveFrom = input.effectiveFrom ?? now;
    if (effectiveFrom < now) {
      throw new FlexgateError("PRICE_CHANGE_IN_PAST", "a price change takes effect now or later, never in the past", `${prefix}effectiveFrom`);
    }
    const name = input.name == null ? null : cleanText(input.name, `${prefix}name`, { max: 200 });
    return {
      apiCode,
      name: name ?? this.currentName(apiCode) ?? apiCode,
      meter: input.meter,
      unitQuantity: requirePositiveInt(input.unitQuantity, `${prefix}unitQuantity`, MAX_UNIT_QUANTITY),
      tokensPerUnitMicros: input.tokensPerUnitMicros,
      chargeableOutcomes: OUTCOMES.filter((outcome) => outcomes.includes(outcome)),
      effectiveFrom,
      note: cleanText(input.note, `${prefix}note`, { max: 2000 }),
    };
  }

  private append(
    version: Omit<Parameters<typeof insertPriceVersion>[1], "publishedBy" | "publishedAt">,
    actor: Actor,
    field: string,
    action: string,
  ): PriceEntryView {
    return inTransaction(this.context.db, "immediate", (tx) => {
      const versions = priceVersionsOf(tx, version.apiCode);
      assertRoomForVersion(tx, version.apiCode, versions.length, field);
      const clash = versions.find((other) => other.cancelledAt === null && other.effectiveFrom === version.effectiveFrom);
      if (clash) {
        throw badInput(
          `${field ? `${field}.` : ""}effectiveFrom`,
          `version ${clash.id} of ${version.apiCode} already takes effect at ${formatInstant(clash.effectiveFrom)}; cancel it first`,
        );
      }
      const now = this.context.clock();
      const created = insertPriceVersion(tx, { ...version, publishedBy: actor.name, publishedAt: now });
      const view = this.view(created, [...versions, created]);
      appendAudit(tx, actor, { action, entityType: "PriceEntry", entityId: created.id, before: null, after: view }, now);
      return view;
    });
  }

  private currentName(apiCode: string): string | null {
    const versions = priceVersionsOf(this.context.db, apiCode);
    return versions.at(-1)?.name ?? null;
  }

  private view(version: PriceVersion, versions: readonly PriceVersion[]): PriceEntryView {
    return { ...version, effectiveTo: effectiveTo(version, versions), status: priceStatus(version, versions, this.context.clock()) };
  }
}
