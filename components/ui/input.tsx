import type { ComponentProps, ReactElement } from "react";
import { cn } from "./cn";

/** Shared by text inputs and native selects: one border, one focus ring, one invalid state. */
export const controlClass =
  "w-full min-w-0 min-h-[38px] rounded-md border border-input bg-card px-2.5 py-2 text-body text-foreground placeholder:text-placeholder focus-visible:border-primary focus-visible:outline-2 focus-visible:outline-offset-0 focus-visible:outline-ring disabled:bg-muted disabled:text-muted-foreground aria-[invalid=true]:border-destructive";

export function Input({ className, type = "text", ...props }: ComponentProps<"input">): ReactElement {
  return <input type={type} data-slot="input" className={cn(controlClass, className)} {...props} />;
}

/**
 * For text the browser must take as typed (addresses, hosts, folders, ids, URLs): no autofill from
 * other sites' forms, no spelling marks, no capital first letter on a phone keyboard.
 */
export const verbatimInput = { autoComplete: "off", spellCheck: false, autoCapitalize: "none" } as const;
