import { cva, type VariantProps } from "class-variance-authority";
import type { ComponentProps, ReactElement } from "react";
import { cn } from "./cn";

export const alertVariants = cva(
  "flex flex-col gap-1 rounded-md border px-3 py-2.5 text-sm focus:outline-none focus-visible:outline-2 focus-visible:outline-ring",
  {
    variants: {
      tone: {
        error: "border-danger-border bg-danger-soft text-destructive",
        success: "border-success-border bg-success-soft text-success",
        warning: "border-warning-border bg-warning-soft text-warning",
        info: "border-info-border bg-info-soft text-info",
        /** Neutral guidance (not a result): darker text on the info colours. */
        notice: "border-info-border bg-info-soft text-info-strong",
      },
    },
    defaultVariants: { tone: "info" },
  },
);

type AlertProps = ComponentProps<"div"> & VariantProps<typeof alertVariants> & { as?: "div" | "p" };

/** A coloured box for an outcome or a warning. Pass role="alert" only where it must interrupt. */
export function Alert({ className, tone, as: As = "div", ...props }: AlertProps): ReactElement {
  return <As data-slot="alert" className={cn(alertVariants({ tone }), className)} {...(props as ComponentProps<"div">)} />;
}

export function AlertTitle({ className, ...props }: ComponentProps<"strong">): ReactElement {
  return <strong data-slot="alert-title" className={cn("block font-semibold", className)} {...props} />;
}
