"use client";

import * as RadioGroupPrimitive from "@radix-ui/react-radio-group";
import { cva } from "class-variance-authority";
import type { ComponentProps, ReactElement } from "react";
import { cn } from "./cn";
import { segmentedGroupClass, segmentedItemClass } from "./segmented";

/** A bordered box that is one radio and turns primary when chosen: a large card or a compact row. */
export const choiceVariants = cva(
  "flex min-w-0 cursor-pointer border border-border bg-card text-left transition-colors hover:enabled:border-border-strong disabled:cursor-not-allowed disabled:opacity-70 data-[state=checked]:border-primary data-[state=checked]:bg-primary-soft",
  {
    variants: {
      size: {
        card: "items-center gap-3 rounded-lg px-4 py-3 data-[state=checked]:shadow-[inset_0_0_0_1px_var(--primary)]",
        option: "group items-start gap-2.5 rounded-md px-3 py-2.5 text-sm",
      },
    },
  },
);

export function RadioGroup({ className, ...props }: ComponentProps<typeof RadioGroupPrimitive.Root>): ReactElement {
  return <RadioGroupPrimitive.Root data-slot="radio-group" className={cn("grid gap-3", className)} {...props} />;
}

/** A whole card that is one radio: icon, name, hint (the provider choice). */
export function RadioCard({ className, ...props }: ComponentProps<typeof RadioGroupPrimitive.Item>): ReactElement {
  return (
    <RadioGroupPrimitive.Item
      data-slot="radio-card"
      className={cn(choiceVariants({ size: "card" }), className)}
      {...props}
    />
  );
}

/** Radios that look like a segmented control (IMAP | POP3). */
export function RadioSegmentedGroup({ className, ...props }: ComponentProps<typeof RadioGroupPrimitive.Root>): ReactElement {
  return (
    <RadioGroupPrimitive.Root
      data-slot="radio-segmented"
      className={cn(segmentedGroupClass, className)}
      {...props}
    />
  );
}

export function RadioSegmentedItem({ className, ...props }: ComponentProps<typeof RadioGroupPrimitive.Item>): ReactElement {
  return <RadioGroupPrimitive.Item className={cn(segmentedItemClass, "data-[state=checked]:border-border data-[state=checked]:bg-card data-[state=checked]:text-foreground data-[state=checked]:shadow-xs", className)} {...props} />;
}

/** A row that is one radio: a round dot and its label, for short lists of choices (the organisation kind). */
export function RadioOption({ className, children, ...props }: ComponentProps<typeof RadioGroupPrimitive.Item>): ReactElement {
  return (
    <RadioGroupPrimitive.Item
      data-slot="radio-option"
      className={cn(choiceVariants({ size: "option" }), className)}
      {...props}
    >
      <span aria-hidden="true" className="mt-0.5 grid size-[18px] flex-none place-items-center rounded-full border border-border-strong bg-card group-data-[state=checked]:border-primary">
        <RadioGroupPrimitive.Indicator className="size-2.5 rounded-full bg-primary" />
      </span>
      <span className="min-w-0">{children}</span>
    </RadioGroupPrimitive.Item>
  );
}
