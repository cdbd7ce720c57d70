import { type ClassType, Field, Int, ObjectType } from "type-graphql";
import { badInput } from "../../core/errors.js";
import type { Page } from "../../services/context.js";

@ObjectType({ description: "Where a page of a connection starts and ends, and whether another follows (Relay connection spec)." })
export class PageInfo {
  @Field(() => Boolean, { description: "True when a further page follows this one." })
  hasNextPage!: boolean;

  @Field(() => Boolean, {
    description:
      "Always false: connections page forward only (`first` and `after`), and the Relay spec lets a forward page answer false rather than look back. To go back, keep the cursors of the pages already seen.",
  })
  hasPreviousPage!: boolean;

  @Field(() => String, { nullable: true, description: "The cursor of the first edge; null on an empty page." })
  startCursor!: string | null;

  @Field(() => String, { nullable: true, description: "The cursor of the last edge; pass it as `after` for the next page. Null on an empty page." })
  endCursor!: string | null;
}

export interface Edge<T> {
  cursor: string;
  node: T;
}

export interface ConnectionValue<T> {
  edges: Edge<T>[];
  pageInfo: PageInfo;
  totalCount: Promise<number>;
}

/** Relay-style connection types for one node type: `<Name>Connection` and `<Name>Edge`. */
export function connectionOf<T extends object>(node: ClassType<T>, name: string, what: string, whats = `${what}s`) {
  @ObjectType(`${name}Edge`, { description: `One ${what} and its cursor.` })
  class EdgeType {
    @Field(() => String, { description: "Opaque position of this edge, for `after`." })
    cursor!: string;

    @Field(() => node, { description: `The ${what}.` })
    node!: T;
  }

  @ObjectType(`${name}Connection`, { description: `A page of ${whats}.` })
  class ConnectionType {
    @Field(() => [EdgeType], { description: `The ${whats} of this page, in order.` })
    edges!: EdgeType[];

    @Field(() => PageInfo, { description: "Paging information." })
    pageInfo!: PageInfo;

    @Field(() => Int, { description: `How many ${whats} match, across all pages.` })
    totalCount!: number;
  }

  return ConnectionType;
}

/** Cursors are opaque to clients: base64url of the row id they point after. */
export function encodeCursor(id: number): string {
  return Buffer.from(`id:${id}`).toString("base64url");
}

export function decodeCursor(cursor: string | null | undefined, field = "after"): number | undefined {
  if (cursor == null) return undefined;
  const match = /^id:([1-9][0-9]{0,15})$/.exec(Buffer.from(cursor, "base64url").toString());
  if (!match) throw badInput(field, `${field} is not a cursor this API gave out`);
  return Number(match[1]);
}

/**
 * Cursors of a connection that can be listed in several orders: the order's name and the sort
 * key of the row a page continues after. The next page is then one index range read, and a
 * cursor is never applied to an order it was not made for.
 */
export function encodeOrderedCursor(order: string, key: readonly number[]): string {
  return Buffer.from([order, ...key].join(":")).toString("base64url");
}

/** The sort key in an `encodeOrderedCursor` cursor for `order`, one of `orders` (each with the fields of its key). */
export function decodeOrderedCursor<O extends string>(
  cursor: string | null | undefined,
  order: O,
  orders: Readonly<Record<O, { readonly key: readonly string[] }>>,
  field = "after",
): number[] | undefined {
  if (cursor == null) return undefined;
  const [given, ...parts] = Buffer.from(cursor, "base64url").toString().split(":");
  // An instant before 1970-01-01T00:00Z is negative, so a key part may be.
  const key = parts.map((part) => (/^(0|-?[1-9][0-9]{0,15})$/.test(part) ? Number(part) : NaN));
  const known = given !== undefined && Object.hasOwn(orders, given);
  if (!known || key.length !== orders[given as O].key.length || !key.every(Number.isSafeInteger)) {
    throw badInput(field, `${field} is not a cursor this API gave out`);
  }
  if (given !== order) throw badInput(field, `${field} is a cursor of orderBy ${given}, not ${order}: keep the order while paging, or start again without ${field}`);
  return key;
}

export function toConnection<T extends { id: number }>(page: Page<T>, cursorOf: (item: T) => string = (item) => encodeCursor(item.id)): ConnectionValue<T> {
  const edges = page.items.map((item) => ({ cursor: cursorOf(item), node: item }));
  return {
    edges,
    pageInfo: { hasNextPage: page.hasNextPage, hasPreviousPage: false, startCursor: edges[0]?.cursor ?? null, endCursor: edges.at(-1)?.cursor ?? null },
    get totalCount() {
      return page.totalCount;
    },
  };
}
