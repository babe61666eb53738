"use client";

import * as LabelPrimitive from "@radix-ui/react-label";
import type { ComponentProps, ReactElement } from "react";
import { cn } from "./cn";

export function Label({ className, ...props }: ComponentProps<typeof LabelPrimitive.Root>): ReactElement {
  return <LabelPrimitive.Root data-slot="label" className={cn("text-sm leading-normal font-medium", className)} {...props} />;
}
