import type { ComponentProps, ReactElement } from "react";
import { cn } from "./cn";
import { controlClass } from "./input";

/** A multi-line text input with the same border, focus ring and invalid state as <Input>. */
export function Textarea({ className, ...props }: ComponentProps<"textarea">): ReactElement {
  return <textarea data-slot="textarea" className={cn(controlClass, "min-h-[76px] resize-y", className)} {...props} />;
}
