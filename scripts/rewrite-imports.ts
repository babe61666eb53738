/**
 * One import style: `@/…` for anything outside the file's own folder. Rewrites `../` specifiers
 * (static imports, re-exports, dynamic import()) in place; `./` stays. ESLint refuses `../`
 * afterwards (eslint.config.mjs), so this is for merging branches written before the rule:
 *
 *   npx tsx scripts/rewrite-imports.ts [DIR...]    # default: app components lib watcher tests bench scripts
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";

const root = path.resolve(import.meta.dirname, "..");
const dirs = process.argv.slice(2).length ? process.argv.slice(2) : ["app", "components", "lib", "watcher", "tests", "bench", "scripts"];

function* sourceFiles(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    const full = path.join(dir, name);
    if (name === "node_modules" || name.startsWith(".")) continue;
    if (statSync(full).isDirectory()) yield* sourceFiles(full);
    else if (/\.(ts|tsx)$/.test(name)) yield full;
  }
}

/** `../x` seen from `file` as `@/…`, or null when it leaves the repository. */
export function aliasFor(file: string, specifier: string): string | null {
  const target = path.relative(root, path.resolve(path.dirname(file), specifier));
  if (target.startsWith("..") || path.isAbsolute(target)) return null;
  return `@/${target.split(path.sep).join("/")}`;
}

let changed = 0;
for (const dir of dirs) {
  for (const file of sourceFiles(path.join(root, dir))) {
    const before = readFileSync(file, "utf8");
    const after = before.replace(/((?:from|import)\s*\(?\s*)(["'])(\.\.\/[^"']*)\2/g, (whole, head: string, quote: string, spec: string) => {
      const alias = aliasFor(file, spec);
      return alias ? `${head}${quote}${alias}${quote}` : whole;
    });
    if (after !== before) {
      writeFileSync(file, after);
      changed += 1;
    }
  }
}
console.log(`rewrote imports in ${changed} file(s)`);
