import { clsx, type ClassValue } from "clsx";
import { extendTailwindMerge } from "tailwind-merge";

// The theme's own font sizes (app/globals.css @theme): without this, tailwind-merge would take
// `text-body` for a colour and drop it next to `text-muted-foreground`.
const twMerge = extendTailwindMerge({
  extend: { classGroups: { "font-size": [{ text: ["body", "caption"] }] } },
});

/**
 * Joins class names and lets a later Tailwind utility win over an earlier one of the same kind
 * (`cn("px-3", props.className)`): the shadcn/ui convention every primitive here follows.
 */
export function cn(...inputs: ClassValue[]): string {
  return twMerge(clsx(inputs));
}
