"use client";

import * as CheckboxPrimitive from "@radix-ui/react-checkbox";
import { Check } from "lucide-react";
import type { ComponentProps, ReactElement, ReactNode } from "react";
import { cn } from "./cn";
import { Label } from "./label";

export function Checkbox({ className, ...props }: ComponentProps<typeof CheckboxPrimitive.Root>): ReactElement {
  return (
    <CheckboxPrimitive.Root
      data-slot="checkbox"
      className={cn(
        "peer mt-0.5 grid size-[18px] shrink-0 cursor-pointer place-items-center rounded-sm border border-border-strong bg-card text-primary-foreground disabled:cursor-not-allowed disabled:opacity-50 data-[state=checked]:border-primary data-[state=checked]:bg-primary",
        className,
      )}
      {...props}
    >
      <CheckboxPrimitive.Indicator>
        <Check aria-hidden="true" className="size-3.5" strokeWidth={3} />
      </CheckboxPrimitive.Indicator>
    </CheckboxPrimitive.Root>
  );
}

type CheckboxFieldProps = Omit<ComponentProps<typeof CheckboxPrimitive.Root>, "id"> & { id: string; label: ReactNode; hint?: ReactNode };

/** A checkbox with its label and an optional hint beside it, described by the hint. */
export function CheckboxField({ id, label, hint, ...props }: CheckboxFieldProps): ReactElement {
  return (
    <div data-slot="checkbox-field" className="flex items-start gap-2.5">
      <Checkbox id={id} aria-describedby={hint ? `${id}-hint` : undefined} {...props} />
      <div className="flex min-w-0 flex-col gap-0.5">
        <Label htmlFor={id} className="cursor-pointer peer-disabled:cursor-not-allowed">
          {label}
        </Label>
        {hint ? (
          <span id={`${id}-hint`} className="text-caption text-muted-foreground">
            {hint}
          </span>
        ) : null}
      </div>
    </div>
  );
}
