/**
 * Where a V8 CPU profile's time went, optionally only inside a time window (a capacity burst).
 *
 *   npx tsx bench/cpu-profile-summary.ts FILE.cpuprofile [--from US --to US] [--top 25]
 *
 * --from/--to are CLOCK_MONOTONIC microseconds, the clock of the profile's sample timestamps;
 * bench/capacity.ts records each burst's window as `profile_window_us`. Prints self time by package
 * (node_modules/<name>, node internals, this repo's files, GC, idle) and by function.
 */
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";

type ProfileNode = { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] };
type Profile = { nodes: ProfileNode[]; startTime: number; endTime: number; samples: number[]; timeDeltas: number[] };

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: { from: { type: "string" }, to: { type: "string" }, top: { type: "string", default: "25" } },
});

/** The package a frame belongs to, so the table says "mailparser" rather than 40 file names. */
function packageOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith("(") ? functionName : "(native)";
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1]!;
  if (url.startsWith("node:")) return "node:internals";
  const repo = /\/work\/[^/]+\/(.+)$/.exec(url.replace(/^file:\/\//, ""));
  return repo ? repo[1]! : url;
}

async function main(): Promise<void> {
  const file = positionals[0];
  if (!file) throw new Error("usage: cpu-profile-summary.ts FILE.cpuprofile [--from US --to US]");
  const profile = JSON.parse(await readFile(file, "utf8")) as Profile;
  const from = args.from ? Number(args.from) : -Infinity;
  const to = args.to ? Number(args.to) : Infinity;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const byPackage = new Map<string, number>();
  const byFunction = new Map<string, number>();
  let t = profile.startTime;
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i] ?? 0;
    const dt = profile.timeDeltas[i + 1] ?? 0;
    if (t < from || t > to) continue;
    const node = byId.get(profile.samples[i]!);
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const pkg = packageOf(url, functionName);
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + dt);
    const fn = `${functionName || "(anonymous)"} ${pkg}:${lineNumber + 1}`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + dt);
    total += dt;
  }
  const top = Number(args.top);
  const print = (title: string, m: Map<string, number>): void => {
    process.stdout.write(`\n${title} (total ${(total / 1e6).toFixed(2)} s)\n`);
    for (const [k, v] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) {
      process.stdout.write(`${(v / 1e6).toFixed(3).padStart(8)} s ${((v / total) * 100).toFixed(1).padStart(5)} %  ${k}\n`);
    }
  };
  print("self time by package", byPackage);
  print("self time by function", byFunction);
}

main().catch((err: unknown) => {
  process.stderr.write(`${String(err)}\n`);
  process.exit(1);
});
