/**
 * Builds the operator console into console/dist: one minified script bundled by esbuild, the
 * stylesheet and the icon, each under a content-hashed name so browsers may keep them for a year,
 * and index.html pointing at those names. Every text file is also written gzip- and
 * brotli-compressed, so the server sends the smallest one the browser accepts without compressing
 * on each request.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";
import { build } from "esbuild";

const HERE = dirname(fileURLToPath(import.meta.url));
export const CONSOLE_DIST = join(HERE, "dist");

const ENTRIES = { script: join(HERE, "src", "main.ts"), style: join(HERE, "public", "console.css"), icon: join(HERE, "public", "favicon.svg") };

function writeCompressed(path: string): void {
  const content = readFileSync(path);
  writeFileSync(`${path}.gz`, gzipSync(content, { level: 9 }));
  writeFileSync(`${path}.br`, brotliCompressSync(content, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }));
}

export async function buildConsole(outdir = CONSOLE_DIST): Promise<void> {
  rmSync(outdir, { recursive: true, force: true });
  mkdirSync(outdir, { recursive: true });
  const result = await build({
    entryPoints: Object.values(ENTRIES),
    outdir,
    bundle: true,
    minify: true,
    format: "esm",
    target: "es2022",
    entryNames: "[name]-[hash]",
    loader: { ".svg": "copy" },
    metafile: true,
    legalComments: "none",
    logLevel: "warning",
  });
  const hashed = new Map<string, string>();
  for (const [output, meta] of Object.entries(result.metafile.outputs)) {
    if (meta.entryPoint) hashed.set(basename(meta.entryPoint), basename(output));
  }
  const name = (entry: string) => {
    const file = hashed.get(basename(entry));
    if (!file) throw new Error(`esbuild wrote no output for ${entry}`);
    return file;
  };
  let html = readFileSync(join(HERE, "public", "index.html"), "utf8");
  for (const [reference, entry] of [['href="favicon.svg"', ENTRIES.icon], ['href="console.css"', ENTRIES.style], ['src="main.js"', ENTRIES.script]] as const) {
    if (!html.includes(reference)) throw new Error(`index.html has no ${reference}`);
    html = html.replace(reference, reference.replace(basename(entry).replace(/\.ts$/, ".js"), name(entry)));
  }
  writeFileSync(join(outdir, "index.html"), html);
  for (const file of ["index.html", ...hashed.values()]) writeCompressed(join(outdir, file));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await buildConsole();
