import type { NextFunction, Request, Response } from "express";
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

/** Every API route needs a valid key; only /healthz and the console's static files do not. */
export function requireKey(services: Services) {
  return async (req: Request, res: Response<unknown, Locals>, next: NextFunction) => {
    const viewer = await viewerFromHeader(services, req.headers.authorization);
    if (!viewer) {
      res.setHeader("WWW-Authenticate", 'Bearer realm="flexgate"');
      sendError(res, 401, "UNAUTHENTICATED", "send a valid API key as `Authorization: Bearer <key>`");
      return;
    }
    res.locals.viewer = viewer;
    next();
  };
}
