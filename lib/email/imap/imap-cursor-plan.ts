import type { MailboxStartMode, SyncState } from "@/lib/db/schema";

/**
 * How the IMAP provider finds new mail: by a durable cursor, never by \Seen.
 *
 * The cursor (SyncState imapUidValidity + imapLastUid) says "every UID <= lastUid of this
 * UIDVALIDITY has been stored or deliberately skipped"; it is committed in the same transaction as
 * the rows it covers. New mail is every UID above it, read or unread. UIDs only grow within one
 * UIDVALIDITY (RFC 3501 §2.3.1.1), so nothing can appear below the cursor later.
 *
 * First connect (no cursor) and a changed UIDVALIDITY start a baseline: the UIDs below the
 * folder's UIDNEXT that the start mode wants (SEARCH UNSEEN / SEARCH SINCE / none) are kept as a
 * sequence set next to the cursor until the cursor passes UIDNEXT, so a crash in the middle of a
 * large first import resumes with exactly the same set.
 *
 * While a baseline runs there are two cursors: `lastUid` walks the backlog below UIDNEXT, and
 * `baseline.liveLastUid` covers mail that arrived after the first connect (>= UIDNEXT). Each
 * batch takes live mail first and fills the rest with backlog, so a first import of thousands of
 * old messages never holds back a new one for more than one batch. Both are committed with the
 * rows; when the backlog is done, lastUid jumps to the live cursor and the baseline is dropped.
 */
export type ImapCursor = {
  uidValidity: string;
  /** The folder the cursor belongs to (absent in cursors written before it was recorded). */
  folder?: string;
  lastUid: number;
  /** UIDs below `uidNext` still to import; everything >= uidNext is new mail. */
  baseline: { uids: number[]; uidNext: number; liveLastUid: number } | null;
  /** Lowest UID discovery promised to store (UIDNEXT at the first baseline): reconcile looks from here. */
  floorUid: number;
  /** Internal date of the newest stored message, for a re-baseline window. */
  lastReceivedAt?: string;
};

export function readImapCursor(state: SyncState): ImapCursor | null {
  if (!state.imapUidValidity || typeof state.imapLastUid !== "number") return null;
  const baseline =
    state.imapBaselineUids != null && typeof state.imapBaselineUidNext === "number"
      ? {
          uids: parseUidSet(state.imapBaselineUids),
          uidNext: state.imapBaselineUidNext,
          liveLastUid: Math.max(state.imapBaselineUidNext - 1, typeof state.imapLiveLastUid === "number" ? state.imapLiveLastUid : 0),
        }
      : null;
  return {
    uidValidity: state.imapUidValidity,
    lastUid: state.imapLastUid,
    baseline,
    floorUid: typeof state.imapFloorUid === "number" ? state.imapFloorUid : 1,
    ...(state.imapFolder ? { folder: state.imapFolder } : {}),
    ...(state.imapLastReceivedAt ? { lastReceivedAt: state.imapLastReceivedAt } : {}),
  };
}

/** The SyncState keys for this cursor; null baseline keys clear a finished baseline in a jsonb merge. */
export function imapCursorPatch(cursor: ImapCursor): Partial<SyncState> {
  return {
    imapUidValidity: cursor.uidValidity,
    imapLastUid: cursor.lastUid,
    imapBaselineUids: cursor.baseline ? formatUidSet(cursor.baseline.uids) : null,
    imapBaselineUidNext: cursor.baseline ? cursor.baseline.uidNext : null,
    imapLiveLastUid: cursor.baseline ? cursor.baseline.liveLastUid : null,
    imapFloorUid: cursor.floorUid,
    ...(cursor.folder ? { imapFolder: cursor.folder } : {}),
    ...(cursor.lastReceivedAt ? { imapLastReceivedAt: cursor.lastReceivedAt } : {}),
  };
}

export type BaselineSearch = { unseen: true } | { since: Date } | null;

export type OpenPlan =
  | { kind: "resume"; cursor: ImapCursor }
  | { kind: "baseline"; reason: "first_connect" | "uidvalidity_changed"; search: BaselineSearch; lastReceivedAt?: string };

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * What to do when the folder is opened. A changed UIDVALIDITY (folder recreated, server migrated)
 * makes every stored UID meaningless: the re-baseline takes everything since a day before the
 * newest stored message (SEARCH SINCE has day granularity in the server's time zone), and the
 * content hash key makes re-storing the same mail a no-op.
 */
export function planImapOpen({
  state,
  folder,
  uidValidity,
  startMode,
  startSince,
}: {
  state: SyncState;
  /** The folder being opened: a cursor of another folder (the admin switched) does not apply. */
  folder: string;
  uidValidity: string;
  startMode: MailboxStartMode;
  startSince: Date | null;
}): OpenPlan {
  const stored = readImapCursor(state);
  const cursor = stored && stored.folder !== undefined && stored.folder !== folder ? null : stored;
  if (cursor && cursor.uidValidity === uidValidity) return { kind: "resume", cursor };
  if (cursor) {
    const last = cursor.lastReceivedAt ? new Date(cursor.lastReceivedAt) : null;
    if (last && !Number.isNaN(last.getTime())) {
      return { kind: "baseline", reason: "uidvalidity_changed", search: { since: new Date(last.getTime() - DAY_MS) }, lastReceivedAt: cursor.lastReceivedAt! };
    }
    // Nothing was ever stored through the cursor: the start mode still says what is wanted.
    return { kind: "baseline", reason: "uidvalidity_changed", search: startSearch(startMode, startSince) };
  }
  return { kind: "baseline", reason: "first_connect", search: startSearch(startMode, startSince) };
}

function startSearch(startMode: MailboxStartMode, startSince: Date | null): BaselineSearch {
  if (startMode === "unread") return { unseen: true };
  if (startMode === "since") return startSince ? { since: startSince } : null;
  return null;
}

/** The cursor right after opening a folder for a baseline: what the search found below UIDNEXT. */
export function baselineCursor({
  uidValidity,
  folder,
  uidNext,
  found,
  lastReceivedAt,
}: {
  uidValidity: string;
  folder?: string;
  uidNext: number;
  /** UIDs the baseline search returned (any order; UIDs >= uidNext are new mail anyway). */
  found: number[];
  lastReceivedAt?: string;
}): ImapCursor {
  const uids = [...new Set(found.filter((u) => Number.isInteger(u) && u > 0 && u < uidNext))].sort((a, b) => a - b);
  const base = { uidValidity, ...(folder ? { folder } : {}), floorUid: uidNext, ...(lastReceivedAt ? { lastReceivedAt } : {}) };
  if (uids.length === 0) return { ...base, lastUid: Math.max(0, uidNext - 1), baseline: null };
  return { ...base, lastUid: uids[0]! - 1, baseline: { uids, uidNext, liveLastUid: Math.max(0, uidNext - 1) } };
}

/** Baseline UIDs still to import (above the cursor), at most `limit`. */
export function pendingBaselineUids(cursor: ImapCursor, limit = Infinity): number[] {
  if (!cursor.baseline) return [];
  const out: number[] = [];
  for (const uid of cursor.baseline.uids) {
    if (uid <= cursor.lastUid) continue;
    out.push(uid);
    if (out.length >= limit) break;
  }
  return out;
}

export type MessageMeta = { uid: number; size: number; internalDate?: Date };

export type BatchPlan = {
  /** Fetched whole (BODY.PEEK[]). */
  whole: MessageMeta[];
  /** Above maxMessageBytes: only BODY.PEEK[HEADER], stored too_large. */
  headersOnly: MessageMeta[];
  /** Listed but left for the next batch. */
  rest: MessageMeta[];
  /** The cursor once this batch is committed. */
  lastUid: number;
};

/**
 * Takes the next batch from a listing (UID + RFC822.SIZE of messages above the cursor), capped
 * by count and by body bytes; a single message above maxBytes still goes, alone, so a batch cap
 * below the message cap cannot stall the mailbox. `listedThrough` is the highest UID the listing
 * covers: UIDs up to it that are not listed do not exist (expunged) or are deliberately skipped.
 */
export function planImapBatch({
  listing,
  lastUid,
  listedThrough,
  maxCount,
  maxBytes,
  maxMessageBytes,
}: {
  listing: MessageMeta[];
  lastUid: number;
  listedThrough: number;
  maxCount: number;
  maxBytes: number;
  maxMessageBytes: number;
}): BatchPlan {
  // `n:*` always includes the folder's last message even below n (RFC 3501 §6.4.8).
  const sorted = listing.filter((m) => m.uid > lastUid).sort((a, b) => a.uid - b.uid);
  const whole: MessageMeta[] = [];
  const headersOnly: MessageMeta[] = [];
  let bytes = 0;
  let i = 0;
  for (; i < sorted.length; i++) {
    const m = sorted[i]!;
    if (whole.length + headersOnly.length >= Math.max(1, maxCount)) break;
    if (m.size > maxMessageBytes) {
      headersOnly.push(m);
      continue;
    }
    if (whole.length > 0 && bytes + m.size > maxBytes) break;
    whole.push(m);
    bytes += m.size;
  }
  const rest = sorted.slice(i);
  const next = rest[0];
  return {
    whole,
    headersOnly,
    rest,
    lastUid: next ? next.uid - 1 : Math.max(lastUid, listedThrough, sorted.at(-1)?.uid ?? 0),
  };
}

/**
 * Moves the (backlog) cursor; a baseline the cursor has passed is finished and dropped, and the
 * cursor then continues from the live cursor: everything up to it is stored already.
 */
export function advanceImapCursor(cursor: ImapCursor, lastUid: number, lastReceivedAt?: Date): ImapCursor {
  const moved = Math.max(cursor.lastUid, lastUid);
  const finished = cursor.baseline !== null && moved >= cursor.baseline.uidNext - 1;
  const baseline = cursor.baseline && !finished ? cursor.baseline : null;
  const newest = newestOf(cursor.lastReceivedAt, lastReceivedAt);
  return {
    ...cursor,
    lastUid: finished ? Math.max(moved, cursor.baseline!.liveLastUid) : moved,
    baseline,
    ...(newest ? { lastReceivedAt: newest } : {}),
  };
}

/** Moves the live cursor of a running baseline (without one, it is the only cursor). */
export function advanceLiveCursor(cursor: ImapCursor, liveLastUid: number, lastReceivedAt?: Date): ImapCursor {
  if (!cursor.baseline) return advanceImapCursor(cursor, liveLastUid, lastReceivedAt);
  const newest = newestOf(cursor.lastReceivedAt, lastReceivedAt);
  return {
    ...cursor,
    baseline: { ...cursor.baseline, liveLastUid: Math.max(cursor.baseline.liveLastUid, liveLastUid) },
    ...(newest ? { lastReceivedAt: newest } : {}),
  };
}

function newestOf(stored: string | undefined, candidate: Date | undefined): string | undefined {
  return candidate && (!stored || candidate.getTime() > new Date(stored).getTime()) ? candidate.toISOString() : stored;
}

/** First-import progress for the admin: baseline messages imported so far of the total. */
export function baselineProgress(cursor: ImapCursor | null): { imported: number; total: number } | null {
  if (!cursor?.baseline) return null;
  const total = cursor.baseline.uids.length;
  return { imported: total - pendingBaselineUids(cursor).length, total };
}

/** Reconcile: of these UIDs (SEARCH SINCE), those discovery promised to store by now. */
export function reconcilableUids(cursor: ImapCursor, uids: number[]): number[] {
  const upTo = cursor.baseline ? cursor.baseline.liveLastUid : cursor.lastUid;
  return uids.filter((u) => u >= cursor.floorUid && u <= upTo).sort((a, b) => a - b);
}

/** "1:3,7,9:10" for [1,2,3,7,9,10]: an IMAP sequence set, compact for runs. */
export function formatUidSet(uids: number[]): string {
  const sorted = [...new Set(uids)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    parts.push(i === j ? String(sorted[i]) : `${sorted[i]}:${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(",");
}

export function parseUidSet(set: string): number[] {
  const out: number[] = [];
  for (const part of set.split(",")) {
    if (!part) continue;
    const [a, b] = part.split(":").map(Number);
    if (!Number.isInteger(a)) continue;
    const lo = Math.min(a!, b ?? a!);
    const hi = Math.max(a!, b ?? a!);
    for (let u = lo; u <= hi; u++) out.push(u);
  }
  return out;
}
