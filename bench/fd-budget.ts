/**
 * Open files each process of the capacity bench needs for N mailboxes. RLIMIT_NOFILE is per
 * process, so what counts is the largest single process, not the sum (the old estimate, N * 6 +
 * 4096, added every process together and made 10,000 mailboxes look impossible under a 20,000 hard
 * limit that each process is in fact well inside).
 *
 * - watcher: one IMAP socket per mailbox, plus PostgreSQL pool, parse threads, log and module files;
 * - bench: the bare floor clients (one socket per mailbox) while they run, plus its own pool and
 *   the maildir files of a delivery burst (opened and closed one by one);
 * - Dovecot imap process: per session its client socket, the mailbox's index/log files and an
 *   inotify descriptor (≈ 4), for `imapClientLimit` sessions per process; with one session per
 *   process (limit 1) that is a handful each.
 */
export type FdBudget = { watcher: number; bench: number; dovecotImap: number; largest: number };

const PROCESS_BASE = 1024;

export function fileDescriptorBudget({ mailboxes, imapClientLimit }: { mailboxes: number; imapClientLimit: number }): FdBudget {
  const watcher = mailboxes + PROCESS_BASE;
  const bench = mailboxes + PROCESS_BASE;
  const dovecotImap = Math.min(mailboxes, Math.max(1, imapClientLimit)) * 4 + 256;
  return { watcher, bench, dovecotImap, largest: Math.max(watcher, bench, dovecotImap) };
}
