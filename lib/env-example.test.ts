import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";

const root = path.resolve(import.meta.dirname, "..");

describe(".env.example", () => {
  it("documents every variable that lib/env.ts validates", () => {
    const source = readFileSync(path.join(root, "lib/env.ts"), "utf8");
    const schemaBlock = source.slice(source.indexOf("const schema = z.object({"), source.indexOf("});", source.indexOf("const schema = z.object({")));
    const validated = [...schemaBlock.matchAll(/^\s+([A-Z][A-Z0-9_]+):/gm)].map((m) => m[1]);
    const documented = new Set(
      readFileSync(path.join(root, ".env.example"), "utf8")
        .split("\n")
        .map((l) => /^([A-Z][A-Z0-9_]+)=/.exec(l)?.[1])
        .filter(Boolean),
    );
    assert.ok(validated.length > 30);
    assert.deepEqual(validated.filter((name) => !documented.has(name)), []);
  });
});
