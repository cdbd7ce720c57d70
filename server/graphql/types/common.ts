import { type ClassType, Field, Int, ObjectType } from "type-graphql";
import { badInput } from "../../core/errors.js";
import type { Page } from "../../services/context.js";

@ObjectType({ description: "Where a page of a connection ends and whether another follows." })
export class PageInfo {
  @Field(() => Boolean, { description: "True when a further page follows this one." })
  hasNextPage!: boolean;

  @Field(() => String, { nullable: true, description: "The cursor of the last edge; pass it as `after` for the next page." })
  endCursor!: string | null;
}

export interface Edge<T> {
  cursor: string;
  node: T;
}

export interface ConnectionValue<T> {
  edges: Edge<T>[];
  pageInfo: PageInfo;
  totalCount: number;
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

export function toConnection<T extends { id: number }, V = T>(page: Page<T>, map: (item: T) => V = (item) => item as unknown as V): ConnectionValue<V> {
  const edges = page.items.map((item) => ({ cursor: encodeCursor(item.id), node: map(item) }));
  return {
    edges,
    pageInfo: { hasNextPage: page.hasNextPage, endCursor: edges.at(-1)?.cursor ?? null },
    get totalCount() {
      return page.totalCount;
    },
  };
}
