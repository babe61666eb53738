import type { ComponentProps, ReactElement } from "react";
import { cn } from "./cn";

/** A white panel with the page's border, radius and shadow; `as="article"` for a mailbox. */
export function Card({ className, as: As = "div", ...props }: ComponentProps<"div"> & { as?: "div" | "article" | "section" }): ReactElement {
  return <As data-slot="card" className={cn("rounded-lg border border-border bg-card text-card-foreground shadow-card", className)} {...props} />;
}

/** A section title inside a card: small caps, muted. */
export function SectionTitle({ className, ...props }: ComponentProps<"h3">): ReactElement {
  return <h3 className={cn("text-caption font-semibold tracking-[0.04em] text-muted-foreground uppercase", className)} {...props} />;
}

/** The page's centred column: 1040 px wide at most, tighter padding on a phone. */
export function PageContainer({ className, ...props }: ComponentProps<"div">): ReactElement {
  return <div className={cn("mx-auto max-w-[1040px] px-3 pt-4 pb-8 sm:px-4 sm:pt-8 sm:pb-12", className)} {...props} />;
}
