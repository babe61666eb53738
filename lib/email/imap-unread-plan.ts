/**
 * How the IMAP provider finds unread mail, without a UID SEARCH on every new-mail notification.
 *
 * New mail always gets a UID >= the mailbox's UIDNEXT, so a session that has examined every
 * message below a cursor (by an UNSEEN search at connect, or by earlier fetches) finds what is new
 * with one `UID FETCH cursor:*` that also returns the flags: one IMAP command per new message
 * instead of SEARCH + FETCH. The full `UID SEARCH UNSEEN` still runs at connect, on every safety
 * re-sync (a quiet wait that timed out: it also catches mail marked unread again) and while a
 * backlog larger than one batch is drained, so nothing it found before is missed now.
 */
export type UnreadFetchPlan = { kind: "search" } | { kind: "range"; range: string };

export function planUnreadFetch({
  fullSearchDue,
  uidCursor,
  newMessages,
  maxCount,
}: {
  /** Set at connect, after a quiet wait timed out, and while a backlog is drained. */
  fullSearchDue: boolean;
  /** Every message with a lower UID has been examined in this session; 0 when unknown. */
  uidCursor: number;
  /** EXISTS now minus EXISTS at the previous fetch: an upper bound on new messages, give or take expunges. */
  newMessages: number;
  maxCount: number;
}): UnreadFetchPlan {
  // A burst bigger than a batch goes through SEARCH, which takes the lowest maxCount UIDs, so one
  // fetch never holds more than a batch of message bodies.
  if (fullSearchDue || uidCursor < 1 || newMessages > maxCount) return { kind: "search" };
  return { kind: "range", range: `${uidCursor}:*` };
}

export type RangeMessage = { uid: number; seen: boolean };

/**
 * Which messages of a `UID FETCH cursor:*` answer are new and unread, and the cursor after it.
 * `n:*` always includes the mailbox's last message even when its UID is below n (RFC 3501), so
 * UIDs under the cursor are dropped; read ones are skipped as `SEARCH UNSEEN` would skip them.
 */
export function selectNewUnread<T extends RangeMessage>(
  messages: T[],
  uidCursor: number,
): { unread: T[]; uidCursor: number } {
  let cursor = uidCursor;
  const unread: T[] = [];
  for (const m of messages) {
    if (m.uid < uidCursor) continue;
    cursor = Math.max(cursor, m.uid + 1);
    if (!m.seen) unread.push(m);
  }
  return { unread: unread.sort((a, b) => a.uid - b.uid), uidCursor: cursor };
}
