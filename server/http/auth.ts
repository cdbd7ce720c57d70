import type { IncomingMessage, ServerResponse } from "node:http";
import type { NextFunction, Request, Response } from "express";
import { GraphQLError } from "graphql";
import type { Viewer } from "../core/model.js";
import { actorOf } from "../services/keys.service.js";
import type { Services } from "../services/index.js";

/** What the key check before the body found (checkKeyBeforeBody). */
export interface KeyCheck {
  readonly viewer: Viewer;
  /** The whole body had arrived when the key check answered: the check is as fresh as the operation. */
  readonly checkedWithBody: boolean;
}

/** Express routes keep the key check in `res.locals`, set by requireKey. */
export type Locals = Partial<KeyCheck>;

/** The caller's key from `Authorization: Bearer <secret>`, or null. Looked up on every request, so a revoked key stops at once. */
export async function viewerFromHeader(services: Services, header: string | undefined): Promise<Viewer | null> {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? "");
  if (!match) return null;
  const key = await services.keys.authenticate(match[1]!);
  return key ? { key, actor: actorOf(key) } : null;
}

/** Answers a refusal, or a failure, as the API's error envelope (on Express's routes and on the plain GraphQL path alike). */
export function sendError(res: ServerResponse, status: number, code: string, message: string, field?: string) {
  const body = JSON.stringify({ errors: [{ message, extensions: { code, ...(field ? { field } : {}) } }] });
  res.statusCode = status;
  res.setHeader("Content-Type", "application/json; charset=utf-8");
  res.setHeader("Content-Length", Buffer.byteLength(body));
  res.end(body);
}

const CHALLENGE = 'Bearer realm="flexgate"';
const SEND_A_KEY = "send a valid API key as `Authorization: Bearer <key>`";

/**
 * Every API route needs a valid key; only /healthz and the console's static files do not. This
 * check runs before the body is read, so a caller without a key never makes the server read one.
 */
export function requireKey(services: Services) {
  return async (req: Request, res: Response<unknown, Locals>, next: NextFunction) => {
    const check = await checkKeyBeforeBody(services, req, res);
    if (!check) return;
    Object.assign(res.locals, check);
    next();
  };
}

/** The key check of requireKey, for Express's routes and the plain GraphQL path alike: null once it has answered 401. */
export async function checkKeyBeforeBody(services: Services, req: IncomingMessage, res: ServerResponse): Promise<KeyCheck | null> {
  const viewer = await viewerFromHeader(services, req.headers.authorization);
  if (!viewer) {
    refuseUnauthenticated(res);
    return null;
  }
  return { viewer, checkedWithBody: bodyArrived(req) };
}

/**
 * Whether every byte of the body is in: the request says its length, and that much waits unread
 * (`complete` is only set once the body has been read). A chunked body is never taken as in.
 */
function bodyArrived(req: IncomingMessage): boolean {
  const length = req.headers["content-length"];
  return req.complete || (length !== undefined && req.readableLength >= Number(length));
}

/**
 * The caller's key once more, when the operation is about to run: the body may have taken a
 * long time to arrive, and a key revoked meanwhile must not do anything. When the whole body
 * had already arrived as the first check answered, that check is the one a second lookup would
 * repeat (nothing of the request waited in between), and it stands: a request then costs one
 * lookup, which on PostgreSQL is a round trip to the database.
 */
export async function viewerAtOperationStart(services: Services, req: Request): Promise<Viewer> {
  return operationViewer(services, req.headers.authorization, localsOf(req));
}

/** viewerAtOperationStart for a request whose key is sent in `header` and was checked as `check`. */
export async function operationViewer(services: Services, header: string | undefined, check: Locals | undefined): Promise<Viewer> {
  const viewer = standing(check) ?? (await viewerFromHeader(services, header));
  if (!viewer) {
    throw new GraphQLError(SEND_A_KEY, {
      extensions: { code: "UNAUTHENTICATED", http: { status: 401, headers: new Map([["www-authenticate", CHALLENGE]]) } },
    });
  }
  return viewer;
}

/** The caller's key once the body is in (see viewerAtOperationStart), or null when it no longer holds. */
export async function viewerAfterBody(services: Services, req: Request): Promise<Viewer | null> {
  return standing(localsOf(req)) ?? viewerFromHeader(services, req.headers.authorization);
}

const localsOf = (req: Request): Locals | undefined => (req.res as Response<unknown, Locals> | undefined)?.locals;

/** The viewer the check before the body found, when the whole body had arrived as it answered; else null. */
function standing(check: Locals | undefined): Viewer | null {
  return (check?.checkedWithBody && check.viewer) || null;
}

/** Answers 401 with the challenge: no key, or one that is unknown or revoked. */
export function refuseUnauthenticated(res: ServerResponse): void {
  res.setHeader("WWW-Authenticate", CHALLENGE);
  sendError(res, 401, "UNAUTHENTICATED", SEND_A_KEY);
}
