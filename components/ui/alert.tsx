import { cva, type VariantProps } from "class-variance-authority";
import type { ComponentProps, ReactElement, ReactNode } from "react";
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

type LiveRegionProps = ComponentProps<"div"> & { as?: "div" | "p" | "span" };

/**
 * A polite live region. It stays in the DOM while empty: screen readers announce text that appears
 * inside a region they already know, and often miss a region that is added together with its text.
 */
export function LiveRegion({ as: As = "div", ...props }: LiveRegionProps): ReactElement {
  return <As data-slot="live-region" aria-live="polite" {...(props as ComponentProps<"div">)} />;
}

export const liveNoteVariants = cva("text-caption", {
  variants: {
    tone: {
      /** A quiet outcome line ("Saved."), under the controls it belongs to. */
      muted: "text-muted-foreground",
      /** A failure next to one control, in the look of a form field's error. */
      "error-text": "font-medium text-destructive",
    },
  },
});

type AlertTone = NonNullable<VariantProps<typeof alertVariants>["tone"]>;
type NoteTone = NonNullable<VariantProps<typeof liveNoteVariants>["tone"]>;

type LiveNoticeProps = Omit<ComponentProps<"p">, "children"> & {
  /** Nothing (null, "") leaves the region empty, ready for the next message. */
  children?: ReactNode;
  /** An Alert box in that tone, or a one-line note (`muted`, `error-text`). */
  tone: AlertTone | NoteTone;
  /** Classes of the always-present region (e.g. `empty:hidden` inside a flex column with gaps). */
  regionClassName?: string;
};

/** One message in a polite live region: the outcome of an action, announced when it appears. */
export function LiveNotice({ children, tone, regionClassName, className, ...props }: LiveNoticeProps): ReactElement {
  const empty = children === null || children === undefined || children === false || children === "";
  return (
    <LiveRegion className={regionClassName}>
      {empty ? null : tone === "muted" || tone === "error-text" ? (
        <p className={cn(liveNoteVariants({ tone }), className)} {...props}>
          {children}
        </p>
      ) : (
        <Alert as="p" tone={tone} className={className} {...props}>
          {children}
        </Alert>
      )}
    </LiveRegion>
  );
}
