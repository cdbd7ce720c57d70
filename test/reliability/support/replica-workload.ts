/**
 * What clients of several replicas sent and were told, write by write: usage events (by event
 * id), Flex purchases (by order reference), lot imports (by external reference) and reversals.
 * Every answer is checked as it arrives against the answers before it (one id per write, never
 * charged twice, a resend after an answer is a replay); at the end the database is checked
 * against the answers (every acknowledged write present exactly once, nothing else).
 */
import { expect } from "vitest";
import { formatMicros } from "../../../server/core/money.js";
import type { PgLedger } from "./pg-ledger.js";
import { errorsIn, expectNoInternalError } from "./safe-errors.js";
import type { Outcome } from "./server-process.js";

export const MICROS = 1_000_000n;

export const RECORD = `mutation Record($input: UsageInput!) { recordUsage(input: $input) { replayed charge { id eventId tokens } } }`;
export const RECORD_BATCH = `mutation RecordBatch($inputs: [UsageInput!]!) {
  recordUsageBatch(inputs: $inputs) { eventId replayed charge { id tokens } error { code message field } } }`;
export const PURCHASE = `mutation Buy($input: RecordFlexPurchaseInput!) { recordFlexPurchase(input: $input) { id tokens orderRef } }`;
export const IMPORT_LOT = `mutation Lot($input: ImportCreditLotInput!) { importCreditLot(input: $input) { id amount externalRef } }`;
export const REVERSE = `mutation Reverse($id: ID!, $reason: String!) { reverseCharge(chargeId: $id, reason: $reason) { id reversed } }`;
export const PUBLISH = `mutation Publish($input: PublishPriceInput!) { publishPrice(input: $input) { id tokensPerUnit effectiveFrom } }`;

export type WriteKind = "usage" | "pack" | "lot";

export interface Write {
  readonly kind: WriteKind;
  /** Event id, order reference or external reference: what makes a resend the same write. */
  readonly ref: string;
  readonly accountId: number;
  /** What it moves: the charge of an event, the size of a pack or lot. */
  readonly micros: bigint;
  readonly input: Record<string, unknown>;
  /** The charge, pack or lot id of the first accepting answer. */
  ack?: string;
  /** Answers that charged the event anew (not replays): more than one is a double charge. */
  fresh: number;
  refusals: string[];
  /** Sent at the same moment as a write of another account under the same reference. */
  contested?: boolean;
}

export interface UsageAnswer {
  readonly charge: { id: string; tokens: string } | null;
  readonly replayed: boolean | null;
  readonly code?: string;
}

export class Workload {
  readonly writes: Write[] = [];
  readonly problems: string[] = [];
  /** Charge ids picked for a reversal. */
  private readonly pickedForReversal = new Set<string>();
  /** Charge ids whose reversal was answered, with how many answers said "reversed". */
  readonly reversed = new Map<string, number>();
  private sequence = 0;

  constructor(
    /** Prefix of every reference: unique per test, so tests can share a database. */
    private readonly prefix: string,
    /** The refusal codes a usage event of each account may meet (HARD_STOP: INSUFFICIENT_BALANCE). */
    private readonly allowedRefusals: (accountId: number) => readonly string[],
  ) {}

  usage(accountId: number, input: Omit<Record<string, unknown>, "eventId">, micros: bigint): Write {
    const ref = `${this.prefix}-e${++this.sequence}`;
    return this.add({ kind: "usage", ref, accountId, micros, input: { eventId: ref, accountId: String(accountId), ...input } });
  }

  pack(accountId: number, tokens: bigint, purchasedAt: string): Write {
    const ref = `${this.prefix}-o${++this.sequence}`;
    const input = { accountId: String(accountId), tokens: String(tokens), purchasedAt, channel: "ESTORE", orderRef: ref };
    return this.add({ kind: "pack", ref, accountId, micros: tokens * MICROS, input });
  }

  lot(accountId: number, tokens: bigint, purchasedAt: string): Write {
    const ref = `${this.prefix}-l${++this.sequence}`;
    return this.add({ kind: "lot", ref, accountId, micros: tokens * MICROS, input: { accountId: String(accountId), amount: String(tokens), purchasedAt, externalRef: ref } });
  }

  /**
   * The same reference for another account, to be sent at the same moment as `write`: one of the
   * two is stored, the other is refused IDEMPOTENCY_CONFLICT.
   */
  rival(write: Write, accountId: number): Write {
    const rival = this.add({ kind: write.kind, ref: write.ref, accountId, micros: write.micros, input: { ...write.input, accountId: String(accountId) } });
    write.contested = rival.contested = true;
    return rival;
  }

  /** A refusal the write may meet: its account's, or a conflict with its rival. */
  private mayBeRefused(write: Write, code: string): boolean {
    return (write.contested === true && code === "IDEMPOTENCY_CONFLICT") || (write.kind === "usage" && this.allowedRefusals(write.accountId).includes(code));
  }

  /**
   * A whole GraphQL answer: never an internal error, never a leak; returns its data, or null
   * (with the problem noted) when the request was lost or refused as a whole.
   */
  body(outcome: Outcome, what: string): any {
    if (outcome.kind === "lost") {
      this.problems.push(`${what}: no answer (${outcome.reason})`);
      return null;
    }
    try {
      expectNoInternalError(outcome.body);
    } catch (error) {
      this.problems.push(`${what}: ${String(error).slice(0, 400)}`);
    }
    return outcome.body.data ?? null;
  }

  /** The answer to one event. `afterAck`: the request left after an earlier answer accepted it. */
  answerUsage(write: Write, answer: UsageAnswer, afterAck: boolean): void {
    if (answer.charge) {
      if (answer.charge.tokens !== formatMicros(write.micros)) this.problems.push(`${write.ref} charged ${answer.charge.tokens}, expected ${formatMicros(write.micros)}`);
      if (write.ack !== undefined && write.ack !== answer.charge.id) this.problems.push(`${write.ref} answered charge ${answer.charge.id} after ${write.ack}`);
      if (answer.replayed !== true && ++write.fresh > 1) this.problems.push(`${write.ref} was charged anew twice`);
      if (afterAck && answer.replayed !== true) this.problems.push(`${write.ref} sent again after its answer was not a replay`);
      write.ack ??= answer.charge.id;
    } else {
      const code = answer.code ?? "NO_CODE";
      write.refusals.push(code);
      if (!this.mayBeRefused(write, code)) this.problems.push(`${write.ref} refused ${code}`);
      if (afterAck) this.problems.push(`${write.ref} sent again after it was charged was refused ${code}`);
    }
  }

  /** recordUsage's answer, or its refusal. */
  answerRecord(write: Write, outcome: Outcome, afterAck: boolean): boolean {
    const data = this.body(outcome, write.ref);
    if (outcome.kind === "lost") return false;
    const payload = data?.recordUsage;
    if (payload) this.answerUsage(write, { charge: payload.charge, replayed: payload.replayed }, afterAck);
    else this.answerUsage(write, { charge: null, replayed: null, code: errorsIn(outcome.body)[0]?.extensions?.code }, afterAck);
    return true;
  }

  /** recordUsageBatch's answer: one result per event, in order. */
  answerBatch(batch: readonly Write[], outcome: Outcome, afterAck: readonly boolean[]): boolean {
    const data = this.body(outcome, `batch of ${batch[0]?.ref}`);
    if (outcome.kind === "lost") return false;
    const results = data?.recordUsageBatch as { eventId: string; replayed: boolean | null; charge: UsageAnswer["charge"]; error: { code: string } | null }[] | undefined;
    if (!results || results.length !== batch.length) {
      this.problems.push(`batch of ${batch[0]?.ref} answered ${JSON.stringify(outcome.body).slice(0, 300)}`);
      return true;
    }
    results.forEach((result, index) => {
      const write = batch[index]!;
      if (result.eventId !== write.ref) this.problems.push(`batch item ${index} answered for ${result.eventId}, sent ${write.ref}`);
      this.answerUsage(write, { charge: result.charge, replayed: result.replayed, code: result.error?.code }, afterAck[index]!);
    });
    return true;
  }

  /** recordFlexPurchase's or importCreditLot's answer: the same id for every send of one reference. */
  answerFunding(write: Write, outcome: Outcome): boolean {
    const data = this.body(outcome, write.ref);
    if (outcome.kind === "lost") return false;
    const row = write.kind === "pack" ? data?.recordFlexPurchase : data?.importCreditLot;
    if (!row) {
      const code = errorsIn(outcome.body)[0]?.extensions?.code ?? "NO_CODE";
      write.refusals.push(code);
      if (!this.mayBeRefused(write, code)) this.problems.push(`${write.ref} refused: ${JSON.stringify(outcome.body.errors).slice(0, 300)}`);
      return true;
    }
    const amount = write.kind === "pack" ? row.tokens : row.amount;
    if (amount !== formatMicros(write.micros)) this.problems.push(`${write.ref} answered ${amount}, expected ${formatMicros(write.micros)}`);
    if (write.ack !== undefined && write.ack !== row.id) this.problems.push(`${write.ref} answered ${write.kind} ${row.id} after ${write.ack}`);
    write.ack ??= row.id;
    return true;
  }

  /** A charged event not picked for a reversal before, or null; `pick` chooses among them. */
  pickReversal(pick: (candidates: readonly Write[]) => Write): string | null {
    const candidates = this.writes.filter((write) => write.kind === "usage" && write.ack !== undefined && write.micros > 0n && !this.pickedForReversal.has(write.ack));
    if (candidates.length === 0) return null;
    const chargeId = pick(candidates).ack!;
    this.pickedForReversal.add(chargeId);
    return chargeId;
  }

  /**
   * reverseCharge's answer. Sent to several replicas at once, one reverses and the others are
   * refused BAD_USER_INPUT (already reversed); sent once, it is never refused.
   */
  answerReversal(chargeId: string, outcome: Outcome, sentTwice: boolean): void {
    const data = this.body(outcome, `reversal of ${chargeId}`);
    if (outcome.kind === "lost") return;
    if (data?.reverseCharge) {
      if (data.reverseCharge.id !== chargeId || data.reverseCharge.reversed !== true) this.problems.push(`reversal of ${chargeId} answered ${JSON.stringify(data)}`);
      const answers = (this.reversed.get(chargeId) ?? 0) + 1;
      this.reversed.set(chargeId, answers);
      if (answers > 1) this.problems.push(`charge ${chargeId} was reversed twice`);
      return;
    }
    const refusal = errorsIn(outcome.body)[0]?.extensions;
    if (!sentTwice || refusal?.code !== "BAD_USER_INPUT" || refusal.field !== "chargeId") {
      this.problems.push(`reversal of ${chargeId} refused: ${JSON.stringify(outcome.body.errors).slice(0, 300)}`);
    }
  }

  private add(fields: Pick<Write, "kind" | "ref" | "accountId" | "micros" | "input">): Write {
    const write: Write = { ...fields, fresh: 0, refusals: [] };
    this.writes.push(write);
    return write;
  }

  /**
   * Every acknowledged write is in the database once, under the id it was answered with, with the
   * amount it was answered with; no write that was never accepted is there; each answered
   * reversal is there once.
   */
  async expectStoredExactlyOnce(ledger: PgLedger, accountIds: readonly number[], seededPacks: number): Promise<void> {
    const ids = [...accountIds];
    const stored = async (query: string) =>
      new Map((await ledger.rows<{ ref: string; id: number; micros: number; account: number }>(query, [ids])).map((row) => [row.ref, row]));
    const charges = await stored("select event_id as ref, id, tokens_micros as micros, account_id as account from usage_charges where account_id = any($1::bigint[])");
    const packs = await stored("select order_ref as ref, id, tokens_micros as micros, account_id as account from flex_packs where account_id = any($1::bigint[])");
    const lots = await stored("select external_ref as ref, id, amount_micros as micros, account_id as account from credit_lots where account_id = any($1::bigint[])");
    const table = { usage: charges, pack: packs, lot: lots };
    const acceptedByRef = new Map<string, Write[]>();
    for (const write of this.writes) {
      if (write.ack !== undefined) acceptedByRef.set(write.ref, [...(acceptedByRef.get(write.ref) ?? []), write]);
    }
    for (const write of this.writes) {
      const row = table[write.kind].get(write.ref);
      const accepted = acceptedByRef.get(write.ref) ?? [];
      // Of two rivals under one reference exactly one was accepted, and it is the one stored.
      if (write.contested) expect(accepted.length, `rivals under ${write.ref} accepted`).toBe(1);
      if (write.ack !== undefined) expect(row && { id: String(row.id), micros: BigInt(row.micros), account: row.account }, write.ref).toEqual({ id: write.ack, micros: write.micros, account: write.accountId });
      else if (accepted.length === 0) expect(row, `${write.ref} was never accepted, yet it is stored`).toBeUndefined();
    }
    const accepted = (kind: WriteKind) => [...acceptedByRef.values()].filter((writes) => writes[0]!.kind === kind).length;
    expect(charges.size, "charges stored").toBe(accepted("usage"));
    expect(packs.size, "packs stored").toBe(accepted("pack") + seededPacks);
    expect(lots.size, "lots stored").toBe(accepted("lot"));
    const reversals = await ledger.rows<{ charge_id: number }>(
      "select r.charge_id from reversals r join usage_charges c on c.id = r.charge_id where c.account_id = any($1::bigint[])",
      [ids],
    );
    expect(reversals.map((row) => String(row.charge_id)).sort(), "reversals stored").toEqual([...this.reversed.keys()].sort());
  }
}
