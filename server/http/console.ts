import { existsSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import express, { type Router } from "express";
import expressStaticGzip from "express-static-gzip";
import { DEFAULT_CONSOLE_IDLE_MINUTES } from "../config.js";

/**
 * The operator console's static files, as `npm run build:console` writes them to console/dist, and
 * its settings (config.json). The page talks only to /graphql, so this router serves files and
 * nothing else, under a CSP that allows nothing but this origin: no inline script or
 * style, no eval, no framing, no external hosts.
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self'",
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join("; ");

/** console/dist: what `npm run build:console` writes (see console/build.ts). */
export function consoleDist(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, "console");
    if (existsSync(join(candidate, "build.ts"))) return join(candidate, "dist");
    const parent = dirname(dir);
    if (parent === dir) throw new Error("console folder not found");
    dir = parent;
  }
}

export interface ConsoleOptions {
  readonly distDir?: string;
  /** Minutes without a key press, click or scroll after which the console signs the operator out. */
  readonly idleMinutes?: number;
}

/** A year: every file but index.html carries a hash of its content in its name, so it never changes. */
const IMMUTABLE = "public, max-age=31536000, immutable";

export function consoleRouter({ distDir = consoleDist(), idleMinutes = DEFAULT_CONSOLE_IDLE_MINUTES }: ConsoleOptions = {}): Router {
  const router = express.Router();

  router.use((_req, res, next) => {
    res.setHeader("Content-Security-Policy", CONSOLE_CSP);
    res.setHeader("X-Content-Type-Options", "nosniff");
    res.setHeader("Referrer-Policy", "no-referrer");
    res.setHeader("X-Frame-Options", "DENY");
    res.setHeader("Cross-Origin-Opener-Policy", "same-origin");
    res.setHeader("Cross-Origin-Resource-Policy", "same-origin");
    next();
  });

  // "/console" must become "/console/": the page loads its scripts by relative URL.
  router.use((req, res, next) => {
    const [path = "", query] = req.originalUrl.split("?", 2);
    if (req.path === "/" && !path.endsWith("/") && (req.method === "GET" || req.method === "HEAD")) {
      return res.redirect(308, `${path}/${query === undefined ? "" : `?${query}`}`);
    }
    next();
  });

  // Without the built files the page would not load at all; say why instead.
  router.get(["/", "/index.html"], (_req, res, next) => {
    if (existsSync(join(distDir, "index.html"))) return next();
    res.status(503).type("text/plain").setHeader("Cache-Control", "no-store");
    res.send("The operator console has not been built: run `npm run build:console`.\n");
  });

  router.get("/config.json", (_req, res) => {
    res.setHeader("Cache-Control", "no-store");
    res.json({ idleMinutes });
  });

  // index.html names the current hashed files, so it is revalidated on every load (ETag → 304)
  // and a deploy shows at once; the hashed files themselves never change and are kept for a year.
  router.use(
    expressStaticGzip(distDir, {
      enableBrotli: true,
      orderPreference: ["br", "gzip"],
      index: "index.html",
      serveStatic: {
        dotfiles: "ignore",
        etag: true,
        lastModified: false,
        redirect: false,
        setHeaders: (res, path) => res.setHeader("Cache-Control", basename(path).startsWith("index.html") ? "no-cache" : IMMUTABLE),
      },
    }),
  );

  router.use((_req, res) => {
    res.status(404).type("text/plain").setHeader("Cache-Control", "no-store");
    res.send("Not found\n");
  });
  return router;
}
