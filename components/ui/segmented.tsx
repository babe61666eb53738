import type { ComponentProps, ReactElement } from "react";
import { cn } from "./cn";

/** The track both segmented controls sit in (toggle buttons here, radios in radio-group.tsx). */
export const segmentedGroupClass = "inline-flex gap-0.5 self-start rounded-lg border border-border bg-secondary p-0.5";

export const segmentedItemClass =
  "inline-flex cursor-pointer items-center rounded-md border border-transparent bg-transparent px-3 py-[5px] text-sm font-medium whitespace-nowrap text-muted-foreground disabled:cursor-not-allowed";

/** A row of toggle buttons (aria-pressed) that look like one control: language, message filter. */
export function SegmentedGroup({ className, ...props }: ComponentProps<"div">): ReactElement {
  return <div role="group" data-slot="segmented" className={cn(segmentedGroupClass, className)} {...props} />;
}

export function SegmentedButton({ className, pressed, size = "default", ...props }: ComponentProps<"button"> & { pressed: boolean; size?: "default" | "sm" }): ReactElement {
  return (
    <button
      type="button"
      aria-pressed={pressed}
      className={cn(
        segmentedItemClass,
        size === "sm" && "px-2.5 py-[3px] text-caption",
        "aria-pressed:border-border aria-pressed:bg-card aria-pressed:text-foreground aria-pressed:shadow-xs",
        className,
      )}
      {...props}
    />
  );
}
