/**
 * CPU seconds per process from /proc, for the benchmarks that split CPU by who used it (capacity,
 * idle-cost, replica-idle). One reader, so they all parse /proc/PID/stat the same way.
 */
import { readdir, readFile } from "node:fs/promises";

/** getconf CLK_TCK on Linux x86-64. */
export const CLK_TCK = 100;

export type ProcStat = {
  pid: number;
  ppid: number;
  comm: string;
  /** Its own utime + stime. */
  cpu: number;
  /** Its reaped children's cutime + cstime. */
  reaped: number;
};

/** Every live process's CPU seconds; a process that exits while being read is left out. */
export async function readProcStats(): Promise<ProcStat[]> {
  const pids = (await readdir("/proc")).filter((d) => /^\d+$/.test(d));
  const stats = await Promise.all(
    pids.map(async (pid): Promise<ProcStat | null> => {
      const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
      if (!stat) return null;
      // comm may contain spaces and parentheses: the fields start after the last ")".
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      return {
        pid: Number(pid),
        ppid: Number(f[1]),
        comm: stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")),
        cpu: (Number(f[11]) + Number(f[12])) / CLK_TCK,
        reaped: (Number(f[13]) + Number(f[14])) / CLK_TCK,
      };
    }),
  );
  return stats.filter((s): s is ProcStat => s !== null);
}
