import type { NextFunction, Request, Response } from "express";
import { GraphQLError } from "graphql";
import type { Viewer } from "../core/model.js";
import { actorOf } from "../services/keys.service.js";
import type { Services } from "../services/index.js";

export interface Locals {
  viewer?: Viewer;
}

/** The caller's key from `Authorization: Bearer <secret>`, or null. Looked up on every request, so a revoked key stops at once. */
export async function viewerFromHeader(services: Services, header: string | undefined): Promise<Viewer | null> {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? "");
  if (!match) return null;
  const key = await services.keys.authenticate(match[1]!);
  return key ? { key, actor: actorOf(key) } : null;
}

export function sendError(res: Response, status: number, code: string, message: string, field?: string) {
  res.status(status).json({ errors: [{ message, extensions: { code, ...(field ? { field } : {}) } }] });
}

const CHALLENGE = 'Bearer realm="flexgate"';
const SEND_A_KEY = "send a valid API key as `Authorization: Bearer <key>`";

/**
 * Every API route needs a valid key; only /healthz and the console's static files do not. This
 * check runs before the body is read, so a caller without a key never makes the server read one.
 */
export function requireKey(services: Services) {
  return async (req: Request, res: Response<unknown, Locals>, next: NextFunction) => {
    const viewer = await viewerFromHeader(services, req.headers.authorization);
    if (!viewer) {
      res.setHeader("WWW-Authenticate", CHALLENGE);
      sendError(res, 401, "UNAUTHENTICATED", SEND_A_KEY);
      return;
    }
    res.locals.viewer = viewer;
    next();
  };
}

/**
 * The caller's key once more, when the operation is about to run: the body may have taken a
 * long time to arrive, and a key revoked meanwhile must not do anything.
 */
export async function viewerAtOperationStart(services: Services, req: Request): Promise<Viewer> {
  const viewer = await viewerFromHeader(services, req.headers.authorization);
  if (!viewer) {
    throw new GraphQLError(SEND_A_KEY, {
      extensions: { code: "UNAUTHENTICATED", http: { status: 401, headers: new Map([["www-authenticate", CHALLENGE]]) } },
    });
  }
  return viewer;
}
