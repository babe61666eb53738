import { cva, type VariantProps } from "class-variance-authority";
import type { ComponentProps, ReactElement } from "react";
import { cn } from "./cn";

export const badgeVariants = cva("inline-flex items-center rounded-full border whitespace-nowrap", {
  variants: {
    tone: {
      success: "border-success-border bg-success-soft text-success",
      danger: "border-danger-border bg-danger-soft text-destructive",
      warning: "border-warning-border bg-warning-soft text-warning",
      info: "border-info-border bg-info-soft text-info",
      neutral: "border-neutral-border bg-secondary text-neutral",
    },
    size: {
      default: "gap-1.5 py-[3px] pr-2.5 pl-2 text-sm leading-[1.4] font-semibold [&_svg]:size-3.5",
      sm: "gap-[5px] py-px pr-2 pl-1.5 text-xs leading-[1.4] font-medium",
    },
  },
  defaultVariants: { tone: "neutral", size: "default" },
});

export type BadgeTone = NonNullable<VariantProps<typeof badgeVariants>["tone"]>;

export function Badge({ className, tone, size, ...props }: ComponentProps<"span"> & VariantProps<typeof badgeVariants>): ReactElement {
  return <span data-slot="badge" className={cn(badgeVariants({ tone, size }), className)} {...props} />;
}
