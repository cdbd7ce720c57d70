import type { AuthChecker } from "type-graphql";
import { FlexgateError, notFound } from "../core/errors.js";
import type { Account, Role, Viewer } from "../core/model.js";
import type { GraphQLContext } from "./context.js";

/**
 * Authorization lives here and nowhere else. Roles are checked for every operation by the
 * `@Authorized(...)` declarations through `authChecker`; partner scoping is decided by
 * `AccountAccess`, through which every resolver reaches an account.
 */
export const authChecker: AuthChecker<GraphQLContext, Role> = ({ context }, roles) => {
  const viewer = viewerOrThrow(context.viewer);
  if (roles.length > 0 && !roles.includes(viewer.key.role)) {
    throw new FlexgateError("FORBIDDEN", `a ${viewer.key.role} key may not do this`);
  }
  return true;
};

export function viewerOrThrow(viewer: Viewer | null): Viewer {
  if (!viewer) throw new FlexgateError("UNAUTHENTICATED", "send an API key as `Authorization: Bearer <key>`");
  return viewer;
}

/** Which accounts a viewer may reach: a partner its reseller's, everyone else all of them. */
export class AccountAccess {
  constructor(private readonly viewer: Viewer | null) {}

  /** The reseller a partner is confined to; undefined when the viewer is not confined. */
  get resellerScope(): number | undefined {
    return this.viewer?.key.role === "PARTNER" ? this.viewer.key.resellerId! : undefined;
  }

  canSee(account: Account): boolean {
    const scope = this.resellerScope;
    return scope === undefined || account.resellerId === scope;
  }

  /**
   * Someone else's account is NOT_FOUND, exactly like one that does not exist, so a partner
   * cannot learn which ids are taken.
   */
  visibleOrThrow(account: Account | null, field: string): Account {
    if (!account || !this.canSee(account)) throw notFound("account", field);
    return account;
  }
}
