/**
 * CPU seconds (user + system) a set of processes has used so far, from /proc/<pid>/stat. On a
 * machine shared with other work, wall-clock throughput moves with the load; the CPU a server
 * spends per byte served moves much less, so the serve bench reports both.
 */
import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';

let ticksPerSecond: number | undefined;

function clockTicks(): number {
  ticksPerSecond ??= Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;
  return ticksPerSecond;
}

/** Sum of utime + stime of these pids, seconds (a pid that is gone counts 0). */
export async function cpuSeconds(pids: number[]): Promise<number> {
  let ticks = 0;
  for (const pid of pids) {
    const text = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    // Fields after the command name (which may hold spaces, so split after its closing paren): utime is the 14th field, stime the 15th.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    ticks += Number(fields[11] ?? 0) + Number(fields[12] ?? 0);
  }
  return ticks / clockTicks();
}

/** The pid and its direct children (nginx: the master and its workers). */
export function withChildren(pid: number): number[] {
  const ps = spawnSync('ps', ['--ppid', String(pid), '-o', 'pid='], { encoding: 'utf8' });
  return [pid, ...ps.stdout.split('\n').map((line) => Number(line.trim())).filter((n) => n > 0)];
}
