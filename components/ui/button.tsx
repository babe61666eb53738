import { Slot } from "@radix-ui/react-slot";
import { cva, type VariantProps } from "class-variance-authority";
import type { ComponentProps, ReactElement, ReactNode } from "react";
import { cn } from "./cn";
import { Spinner } from "./spinner";

export const buttonVariants = cva(
  "inline-flex shrink-0 cursor-pointer items-center justify-center gap-1.5 whitespace-nowrap rounded-md border font-medium no-underline transition-colors disabled:cursor-not-allowed disabled:opacity-60 [&_svg]:pointer-events-none [&_svg]:shrink-0",
  {
    variants: {
      variant: {
        outline: "border-border bg-card text-foreground hover:enabled:bg-secondary",
        default: "border-primary bg-primary text-primary-foreground hover:enabled:bg-primary-hover",
        destructive: "border-destructive bg-destructive text-white hover:enabled:bg-destructive-hover",
        "destructive-outline": "border-danger-border bg-card text-destructive hover:enabled:bg-danger-soft",
        ghost: "border-transparent bg-transparent text-foreground hover:enabled:bg-secondary",
        link: "h-auto min-h-0 border-0 bg-transparent p-0 text-left font-medium text-primary hover:underline",
      },
      size: {
        default: "min-h-[38px] px-3.5 py-2 text-body",
        sm: "min-h-8 px-2.5 py-1 text-sm",
        xs: "min-h-[26px] px-2 py-px text-caption",
        icon: "size-8 p-0",
        "icon-lg": "size-[38px] p-0 text-muted-foreground",
        inline: "",
      },
    },
    defaultVariants: { variant: "outline", size: "default" },
  },
);

export type ButtonProps = ComponentProps<"button"> &
  VariantProps<typeof buttonVariants> & {
    /** Render the single child (an <a>, a Radix trigger) with the button's look instead of a <button>. */
    asChild?: boolean;
  };

/** The one button: outline by default, `default` is the primary action, `destructive` removes things. */
export function Button({ className, variant, size, asChild = false, type, ...props }: ButtonProps): ReactElement {
  const Comp = asChild ? Slot : "button";
  return (
    <Comp
      data-slot="button"
      // A button inside a form never submits by accident: only the one that says so.
      type={asChild ? undefined : (type ?? "button")}
      className={cn(buttonVariants({ variant, size }), className)}
      {...props}
    />
  );
}

type PendingButtonProps = ButtonProps & {
  /** The action runs: the button is disabled, says `pendingLabel` and is marked aria-busy. */
  pending: boolean;
  pendingLabel?: ReactNode;
  /** Shown before the label while idle; the spinner takes its place while pending. */
  icon?: ReactNode;
  /** False for a row's tiny button whose width must not move (the words say it is busy). */
  spinner?: boolean;
};

/**
 * A button that runs something slow: one shape for "Saving…", "Testing…", "Connecting…", so every
 * such button is disabled and busy the same way while its request is out.
 */
export function PendingButton({ pending, pendingLabel, icon, spinner = true, disabled, children, ...props }: PendingButtonProps): ReactElement {
  return (
    <Button disabled={disabled || pending} aria-busy={pending} {...props}>
      {pending && spinner ? <Spinner /> : icon}
      {pending && pendingLabel !== undefined ? pendingLabel : children}
    </Button>
  );
}
