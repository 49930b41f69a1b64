/**
 * Who holds an flock lock, for messages ("waiting for pid 123 (python ...)"):
 * read from `/proc/locks` and `/proc/<pid>/cmdline`. Linux-only and best
 * effort by design: nothing decides correctness on it, so every failure to
 * read /proc just means "no holder known".
 */
import { readFile, stat } from 'node:fs/promises';

const COMMAND_MAX_CHARS = 200;

export interface LockHolder {
  pid: number;
  /** `/proc/<pid>/cmdline`, shortened; absent when another user's process hides it. */
  command?: string;
}

/**
 * Processes holding an flock lock on the file, from `/proc/locks`. Empty when
 * the file is gone, nobody holds it, or /proc is not readable (not Linux,
 * hardened /proc): callers use this for messages only.
 */
export async function lockHolders(params: { path: string }): Promise<LockHolder[]> {
  let st: { dev: bigint; ino: bigint };
  let text: string;
  try {
    st = await stat(params.path, { bigint: true });
    text = await readFile('/proc/locks', 'utf8');
  } catch {
    return [];
  }
  const major = devMajor(st.dev);
  const minor = devMinor(st.dev);
  const exact: number[] = [];
  const inodeOnly: number[] = [];
  for (const line of text.split('\n')) {
    // "1: FLOCK  ADVISORY  WRITE 3254 fe:00:2146583 0 EOF"; blocked waiters
    // print "1: -> FLOCK ..." and are not holders, so field 1 must be FLOCK.
    const fields = line.trim().split(/\s+/);
    if (fields[1] !== 'FLOCK') continue;
    const pid = Number(fields[4]);
    const where = /^([0-9a-f]+):([0-9a-f]+):(\d+)$/i.exec(fields[5] ?? '');
    // pid is -1/0 when the holder is outside our pid namespace: nothing to report.
    if (!where || !Number.isInteger(pid) || pid <= 0) continue;
    if (BigInt(where[3]!) !== st.ino) continue;
    // The kernel prints major:minor in hex ("%02x:%02x"), which may be more than two digits.
    if (BigInt(`0x${where[1]}`) === major && BigInt(`0x${where[2]}`) === minor) exact.push(pid);
    else inodeOnly.push(pid);
  }
  // btrfs subvolumes and some overlayfs setups report a different st_dev from
  // the superblock device /proc/locks prints; the inode alone is the best
  // guess left there, and only used when no exact match exists.
  const pids = [...new Set(exact.length > 0 ? exact : inodeOnly)];
  return Promise.all(pids.map(async (pid) => ({ pid, ...(await commandOf(pid)) })));
}

async function commandOf(pid: number): Promise<{ command?: string }> {
  try {
    const raw = await readFile(`/proc/${pid}/cmdline`, 'utf8');
    // Arguments may hold newlines (python3 -c, node -e); one line reads better in a message.
    let command = raw.replace(/[\0\s]+/g, ' ').trim();
    if (command.length === 0) {
      // Zombies and kernel threads have an empty cmdline; comm is all there is.
      command = (await readFile(`/proc/${pid}/comm`, 'utf8')).trim();
    }
    if (command.length === 0) return {};
    return { command: command.length > COMMAND_MAX_CHARS ? `${command.slice(0, COMMAND_MAX_CHARS - 1)}…` : command };
  } catch {
    // The process exited since /proc/locks was read, or /proc hides it from us.
    return {};
  }
}

/** `, held by pid 12 (cmd), 34` for an error message; empty when no holder is known. */
export function describeHolders(holders: LockHolder[]): string {
  if (holders.length === 0) return '';
  const list = holders.map((h) => (h.command ? `${h.pid} (${h.command})` : String(h.pid))).join(', ');
  return `, held by pid ${list}`;
}

/** glibc's gnu_dev_major/minor for the Linux dev_t userspace encoding. */
function devMajor(dev: bigint): bigint {
  return ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn);
}

function devMinor(dev: bigint): bigint {
  return (dev & 0xffn) | ((dev >> 12n) & ~0xffn);
}
