/**
 * Summarises a V8 .cpuprofile (from `node --cpu-prof`, or `npm run bench -- --profile`): where
 * the samples fall, by function and by package, so a profile can be read without a browser.
 *
 *   npx tsx bench/profile-summary.ts bench/results/profiles/server-small.cpuprofile [--top 30]
 */
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface ProfileRow {
  readonly name: string;
  readonly selfPercent: number;
  readonly totalPercent?: number;
}

export interface ProfileSummary {
  readonly seconds: number;
  readonly idlePercent: number;
  readonly byFunction: readonly ProfileRow[];
  readonly byPackage: readonly ProfileRow[];
  /** Inclusive time of frames whose function or file matches the given markers. */
  readonly inclusive: readonly ProfileRow[];
}

/** Where a frame lives: a package in node_modules, a project folder, node internals or V8. */
function packageOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith("(") ? functionName : "(native)";
  const modules = url.lastIndexOf("node_modules/");
  if (modules >= 0) {
    const rest = url.slice(modules + "node_modules/".length).split("/");
    return rest[0]!.startsWith("@") ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  if (url.startsWith("node:")) return "node internals";
  const project = /\/(server|bench|schema)\/(.*)$/.exec(url);
  if (project) return `${project[1]}/${project[2]!.split("/").slice(0, -1).join("/") || "."}`.replace(/\/\.$/, "");
  return url;
}

const short = (url: string) => url.replace(/^.*node_modules\//, "").replace(/^file:\/\/.*?\/(server|bench|schema)\//, "$1/");

export function summariseProfile(path: string, top = 25, markers: readonly string[] = []): ProfileSummary {
  const profile = JSON.parse(readFileSync(path, "utf8")) as Profile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const selfTime = new Map<number, number>();
  profile.samples.forEach((id, index) => selfTime.set(id, (selfTime.get(id) ?? 0) + (profile.timeDeltas[index] ?? 0)));
  const total = [...selfTime.values()].reduce((a, b) => a + b, 0) || 1;

  const fn = new Map<string, number>();
  const pkg = new Map<string, number>();
  const marked = new Map<string, number>();
  let idle = 0;
  for (const [id, time] of selfTime) {
    const node = byId.get(id)!;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === "(idle)") idle += time;
    const key = `${functionName || "(anonymous)"} ${url ? `${short(url)}:${lineNumber + 1}` : ""}`.trim();
    fn.set(key, (fn.get(key) ?? 0) + time);
    const p = packageOf(url, functionName);
    pkg.set(p, (pkg.get(p) ?? 0) + time);
    // Inclusive time: a sample counts once for each marker found on its stack.
    if (markers.length > 0) {
      const seen = new Set<string>();
      for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
        const frame = byId.get(at)!.callFrame;
        for (const marker of markers) {
          if (!seen.has(marker) && (frame.functionName === marker || frame.url.includes(marker))) seen.add(marker);
        }
      }
      for (const marker of seen) marked.set(marker, (marked.get(marker) ?? 0) + time);
    }
  }
  const rows = (map: Map<string, number>) =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, time]) => ({ name, selfPercent: Math.round((time / total) * 1000) / 10 }));
  return {
    seconds: (profile.endTime - profile.startTime) / 1e6,
    idlePercent: Math.round((idle / total) * 1000) / 10,
    byFunction: rows(fn),
    byPackage: rows(pkg),
    inclusive: markers.map((marker) => ({ name: marker, selfPercent: 0, totalPercent: Math.round(((marked.get(marker) ?? 0) / total) * 1000) / 10 })),
  };
}

export function printProfile(summary: ProfileSummary): string {
  const lines = [`${summary.seconds.toFixed(1)} s profiled, ${summary.idlePercent}% idle`, "", "self time by package:"];
  for (const row of summary.byPackage) lines.push(`  ${row.selfPercent.toFixed(1).padStart(5)}%  ${row.name}`);
  lines.push("", "self time by function:");
  for (const row of summary.byFunction) lines.push(`  ${row.selfPercent.toFixed(1).padStart(5)}%  ${row.name}`);
  if (summary.inclusive.length > 0) {
    lines.push("", "inclusive time:");
    for (const row of summary.inclusive) lines.push(`  ${row.totalPercent!.toFixed(1).padStart(5)}%  ${row.name}`);
  }
  return lines.join("\n");
}

function main(): void {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { top: { type: "string", default: "25" }, mark: { type: "string", multiple: true } },
  });
  for (const path of positionals) {
    console.log(`== ${path}`);
    console.log(printProfile(summariseProfile(path, Number(values.top), values.mark ?? [])));
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
