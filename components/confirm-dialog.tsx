"use client";

import * as Dialog from "@radix-ui/react-dialog";
import { useRef, useState, type ReactNode } from "react";
import { describeApiError } from "./error-text";
import { useI18n } from "./i18n-provider";

type ConfirmDialogProps = {
  open: boolean;
  onOpenChange: (open: boolean) => void;
  title: string;
  description: ReactNode;
  confirmLabel: string;
  pendingLabel: string;
  /** Runs on confirm; the dialog stays open (with the error shown) if it throws. */
  onConfirm: () => Promise<void>;
  destructive?: boolean;
  /** Where focus goes after closing, when the opener no longer exists (e.g. after a removal). */
  onCloseAutoFocus?: (event: Event) => void;
};

/**
 * A modal yes/no question on Radix Dialog: focus is trapped inside, Escape and Cancel close it,
 * and focus starts on Cancel so a stray Enter never confirms something destructive.
 */
export function ConfirmDialog(props: ConfirmDialogProps) {
  const { t, locale } = useI18n();
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const cancelRef = useRef<HTMLButtonElement>(null);
  const openerRef = useRef<HTMLElement | null>(null);

  const confirm = async (): Promise<void> => {
    setPending(true);
    setError(null);
    try {
      await props.onConfirm();
      props.onOpenChange(false);
    } catch (err) {
      setError(describeApiError(t, locale, err));
    } finally {
      setPending(false);
    }
  };

  return (
    <Dialog.Root
      open={props.open}
      onOpenChange={(open) => {
        if (pending) return;
        if (!open) setError(null);
        props.onOpenChange(open);
      }}
    >
      <Dialog.Portal>
        <Dialog.Overlay className="dialog-overlay" />
        <Dialog.Content
          className="dialog dialog-small"
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
          <Dialog.Title className="dialog-title">{props.title}</Dialog.Title>
          <Dialog.Description asChild>
            <div className="dialog-description">{props.description}</div>
          </Dialog.Description>
          {error ? (
            <p className="alert alert-error" role="alert">
              {error}
            </p>
          ) : null}
          <div className="dialog-actions">
            <Dialog.Close asChild>
              <button ref={cancelRef} type="button" className="button" disabled={pending}>
                {t.common.cancel}
              </button>
            </Dialog.Close>
            <button
              type="button"
              className={props.destructive ? "button button-danger" : "button button-primary"}
              onClick={() => void confirm()}
              disabled={pending}
              aria-busy={pending}
            >
              {pending ? props.pendingLabel : props.confirmLabel}
            </button>
          </div>
        </Dialog.Content>
      </Dialog.Portal>
    </Dialog.Root>
  );
}
