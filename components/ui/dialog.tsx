"use client";

import * as DialogPrimitive from "@radix-ui/react-dialog";
import type { ComponentProps, ReactElement } from "react";
import { cn } from "./cn";

export const Dialog = DialogPrimitive.Root;
export const DialogClose = DialogPrimitive.Close;

type DialogContentProps = ComponentProps<typeof DialogPrimitive.Content> & { size?: "sm" | "lg" };

/**
 * Radix Dialog in the page's look: focus trapped inside, Escape closes, focus returns to the opener
 * (callers may steer it with onOpenAutoFocus / onCloseAutoFocus).
 */
export function DialogContent({ className, size = "sm", children, ...props }: DialogContentProps): ReactElement {
  return (
    <DialogPrimitive.Portal>
      <DialogPrimitive.Overlay data-slot="dialog-overlay" className="fixed inset-0 z-50 animate-fade-in bg-overlay motion-reduce:animate-none" />
      <DialogPrimitive.Content
        data-slot="dialog-content"
        className={cn(
          "fixed top-1/2 left-1/2 z-50 flex max-h-[calc(100vh-16px)] w-[calc(100vw-16px)] -translate-x-1/2 -translate-y-1/2 animate-dialog-in flex-col gap-4 overflow-y-auto rounded-xl bg-card p-4 shadow-dialog focus:outline-none motion-reduce:animate-none sm:max-h-[calc(100vh-32px)] sm:w-[calc(100vw-32px)] sm:p-6",
          size === "sm" ? "max-w-[440px]" : "max-w-[720px]",
          className,
        )}
        {...props}
      >
        {children}
      </DialogPrimitive.Content>
    </DialogPrimitive.Portal>
  );
}

export function DialogTitle({ className, ...props }: ComponentProps<typeof DialogPrimitive.Title>): ReactElement {
  return <DialogPrimitive.Title data-slot="dialog-title" className={cn("text-lg leading-tight font-semibold", className)} {...props} />;
}

export function DialogDescription({ className, ...props }: ComponentProps<typeof DialogPrimitive.Description>): ReactElement {
  return <DialogPrimitive.Description data-slot="dialog-description" className={cn("text-sm text-muted-foreground", className)} {...props} />;
}

/** The buttons row: right-aligned, full-width buttons on a phone. */
export function DialogFooter({ className, ...props }: ComponentProps<"div">): ReactElement {
  return <div data-slot="dialog-footer" className={cn("flex flex-wrap justify-end gap-3 max-sm:[&>*]:flex-auto", className)} {...props} />;
}
