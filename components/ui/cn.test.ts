import assert from "node:assert/strict";
import { test } from "node:test";
import { cn } from "./cn";

test("cn keeps the theme's font sizes beside a text colour", () => {
  assert.equal(cn("text-body", "text-muted-foreground"), "text-body text-muted-foreground");
  assert.equal(cn("text-caption font-medium", "text-destructive"), "text-caption font-medium text-destructive");
});

test("cn lets a later utility of the same kind win, font sizes included", () => {
  assert.equal(cn("text-body", "text-sm"), "text-sm");
  assert.equal(cn("px-2 py-2.5", "pl-0"), "px-2 py-2.5 pl-0");
  assert.equal(cn("min-h-[38px] px-3.5", "min-h-8 px-2.5"), "min-h-8 px-2.5");
  assert.equal(cn("bg-card", false, undefined, "bg-primary"), "bg-primary");
});
