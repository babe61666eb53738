"use client";

import { useRef, type ReactElement, type ReactNode } from "react";
import { describeApiError } from "./error-text";
import { useI18n } from "./i18n-provider";
import { Alert } from "./ui/alert";
import { Button, PendingButton } from "./ui/button";
import { Dialog, DialogClose, DialogContent, DialogDescription, DialogFooter, DialogTitle } from "./ui/dialog";
import { usePendingAction } from "./ui/use-pending-action";

type ConfirmDialogProps = {
  open: boolean;
  onOpenChange: (open: boolean) => void;
  title: string;
  description: ReactNode;
  confirmLabel: string;
  pendingLabel: string;
  /** Runs on confirm; the dialog stays open (with the error shown) if it throws. */
  onConfirm: () => Promise<void>;
  /** Shown instead of the thrown error's generic description, when the caller knows better. */
  describeError?: (err: unknown) => string;
  /** Defaults to the dictionary's "Cancel". */
  cancelLabel?: string;
  destructive?: boolean;
  /** Where focus goes after closing, when the opener no longer exists (e.g. after a removal). */
  onCloseAutoFocus?: (event: Event) => void;
};

/**
 * A modal yes/no question on Radix Dialog: focus is trapped inside, Escape and Cancel close it,
 * and focus starts on Cancel so a stray Enter never confirms something destructive.
 */
export function ConfirmDialog(props: ConfirmDialogProps): ReactElement {
  const { t, locale } = useI18n();
  const action = usePendingAction();
  const { pending } = action;
  const cancelRef = useRef<HTMLButtonElement>(null);
  const openerRef = useRef<HTMLElement | null>(null);

  const confirm = async (): Promise<void> => {
    if (await action.run(props.onConfirm)) props.onOpenChange(false);
  };
  const error = action.error ? (props.describeError ? props.describeError(action.error) : describeApiError(t, locale, action.error)) : null;

  return (
    <Dialog
      open={props.open}
      onOpenChange={(open) => {
        if (pending) return;
        if (!open) action.reset();
        props.onOpenChange(open);
      }}
    >
      <DialogContent
        role="alertdialog"
        onOpenAutoFocus={(event) => {
          // Still the element that opened the dialog: focus goes back there on close.
          openerRef.current = document.activeElement instanceof HTMLElement ? document.activeElement : null;
          event.preventDefault();
          cancelRef.current?.focus();
        }}
        onCloseAutoFocus={(event) => {
          props.onCloseAutoFocus?.(event);
          if (event.defaultPrevented) return;
          const opener = openerRef.current;
          if (opener?.isConnected) {
            event.preventDefault();
            opener.focus();
          }
        }}
      >
        <DialogTitle>{props.title}</DialogTitle>
        <DialogDescription asChild>
          <div>{props.description}</div>
        </DialogDescription>
        {error ? (
          <Alert as="p" tone="error" role="alert">
            {error}
          </Alert>
        ) : null}
        <DialogFooter>
          <DialogClose asChild>
            <Button ref={cancelRef} disabled={pending}>
              {props.cancelLabel ?? t.common.cancel}
            </Button>
          </DialogClose>
          <PendingButton variant={props.destructive ? "destructive" : "default"} onClick={() => void confirm()} pending={pending} pendingLabel={props.pendingLabel}>
            {props.confirmLabel}
          </PendingButton>
        </DialogFooter>
      </DialogContent>
    </Dialog>
  );
}
