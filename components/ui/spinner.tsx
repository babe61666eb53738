import { LoaderCircle } from "lucide-react";
import type { ReactElement } from "react";
import { cn } from "./cn";

/** A turning circle for "busy"; always decorative, the words next to it say what happens. */
export function Spinner({ className }: { className?: string }): ReactElement {
  return <LoaderCircle aria-hidden="true" focusable="false" data-slot="spinner" className={cn("size-4 shrink-0 animate-spin motion-reduce:[animation-duration:2.4s]", className)} />;
}
