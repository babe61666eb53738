"use client";

import { useCallback, useState } from "react";

export type PendingAction = {
  pending: boolean;
  /**
   * What the last run threw, or null. Kept as thrown (an ApiError with its code), not as a sentence:
   * the component describes it while rendering, so a language switch translates it again.
   */
  error: unknown;
  /** Runs `action` with pending set and the last error cleared; true when it did not throw. */
  run: (action: () => Promise<void>) => Promise<boolean>;
  /** Forgets the last error (the dialog closed, the form was edited). */
  reset: () => void;
};

/** The state every async button shares: pending while a request is out, then its error if any. */
export function usePendingAction(): PendingAction {
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<unknown>(null);

  const run = useCallback(async (action: () => Promise<void>): Promise<boolean> => {
    setPending(true);
    setError(null);
    try {
      await action();
      return true;
    } catch (err) {
      setError(err ?? new Error("rejected"));
      return false;
    } finally {
      setPending(false);
    }
  }, []);

  const reset = useCallback(() => setError(null), []);
  return { pending, error, run, reset };
}
