/**
 * Moves files and rewrites every import of them (static, re-export, dynamic import()), from a list of
 * `old new` lines (repository-relative paths). Imports inside a moved file are re-resolved from its old
 * place. A target in the importer's own folder is written `./x`, anything else `@/…` (the one import
 * style, eslint.config.mjs). Used for the lib/email folder split; the integrator reruns it with
 * `--no-move` on branches written against the old paths:
 *
 *   npx tsx scripts/apply-moves.ts MOVES_FILE [--no-move]
 */
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";

const root = path.resolve(import.meta.dirname, "..");
const [movesFile, ...flags] = process.argv.slice(2);
if (!movesFile) throw new Error("usage: apply-moves.ts MOVES_FILE [--no-move]");
const move = !flags.includes("--no-move");

const noExt = (p: string): string => p.replace(/\.(ts|tsx)$/, "");
const moves = new Map<string, string>();
for (const line of readFileSync(movesFile, "utf8").split("\n")) {
  const [from, to] = line.trim().split(/\s+/);
  if (from && to) moves.set(noExt(from), noExt(to));
}

function* sourceFiles(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    const full = path.join(dir, name);
    if (name === "node_modules" || name.startsWith(".") || name === "drizzle") continue;
    if (statSync(full).isDirectory()) yield* sourceFiles(full);
    else if (/\.(ts|tsx|mjs)$/.test(name)) yield full;
  }
}

/** Repository-relative path (no extension) a specifier points at, or null for packages. */
function resolveSpec(fileRel: string, spec: string): string | null {
  if (spec.startsWith("@/")) return spec.slice(2);
  if (spec.startsWith("./") || spec.startsWith("../")) return path.posix.normalize(path.posix.join(path.posix.dirname(fileRel), spec));
  return null;
}

function specFor(fileRel: string, target: string): string {
  const dir = path.posix.dirname(fileRel);
  if (path.posix.dirname(target) === dir) return `./${path.posix.basename(target)}`;
  return `@/${target}`;
}

const files = [...sourceFiles(root)].map((f) => path.relative(root, f).split(path.sep).join("/"));
let changed = 0;
for (const oldRel of files) {
  const newRel = moves.has(noExt(oldRel)) ? oldRel.replace(noExt(oldRel), moves.get(noExt(oldRel))!) : oldRel;
  const before = readFileSync(path.join(root, oldRel), "utf8");
  const after = before.replace(/((?:from|import)\s*\(?\s*)(["'])([^"']+)\2/g, (whole, head: string, q: string, spec: string) => {
    const target = resolveSpec(oldRel, spec);
    if (target === null) return whole;
    const moved = moves.get(target);
    if (moved) return `${head}${q}${specFor(newRel, moved)}${q}`;
    if (newRel !== oldRel && spec.startsWith(".")) return `${head}${q}${specFor(newRel, target)}${q}`;
    return whole;
  });
  if (after !== before) {
    writeFileSync(path.join(root, oldRel), after);
    changed += 1;
  }
}
if (move) {
  for (const [from, to] of moves) {
    const ext = existsSync(path.join(root, `${from}.ts`)) ? ".ts" : ".tsx";
    execFileSync("mkdir", ["-p", path.dirname(path.join(root, to))]);
    execFileSync("git", ["mv", `${from}${ext}`, `${to}${ext}`], { cwd: root });
  }
}
console.log(`rewrote imports in ${changed} file(s)${move ? `, moved ${moves.size}` : ""}`);
