import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import express, { type Router } from "express";

/**
 * The operator console's static files: console/public (HTML, CSS, icon) and console/dist (the
 * scripts `npm run build:console` compiles). The page talks only to /graphql, so this router serves
 * files and nothing else, under a CSP that allows nothing but this origin: no inline script or
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

export interface ConsoleFolders {
  readonly publicDir: string;
  readonly distDir: string;
}

/** The console folder, found from here both in the sources and in dist/ (as migrationsFolder). */
export function consoleFolders(): ConsoleFolders {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, "console");
    if (existsSync(join(candidate, "public", "index.html"))) {
      return { publicDir: join(candidate, "public"), distDir: join(candidate, "dist") };
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error("console folder not found");
    dir = parent;
  }
}

export function consoleRouter(folders: ConsoleFolders = consoleFolders()): Router {
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

  // Without the compiled scripts the page would load and silently do nothing; say why instead.
  router.get(["/", "/index.html"], (_req, res, next) => {
    if (existsSync(join(folders.distDir, "main.js"))) return next();
    res.status(503).type("text/plain").setHeader("Cache-Control", "no-store");
    res.send("The operator console has not been built: run `npm run build:console`.\n");
  });

  // File names carry no content hash, so browsers revalidate every time (ETag / Last-Modified
  // answer with 304); a deploy then shows up on the next load, never a mix of old and new files.
  const files = {
    index: "index.html",
    dotfiles: "ignore" as const,
    etag: true,
    lastModified: true,
    redirect: false,
    setHeaders: (res: express.Response) => res.setHeader("Cache-Control", "no-cache"),
  };
  router.use(express.static(folders.publicDir, files));
  router.use(express.static(folders.distDir, { ...files, index: false }));

  router.use((_req, res) => {
    res.status(404).type("text/plain").setHeader("Cache-Control", "no-store");
    res.send("Not found\n");
  });
  return router;
}
