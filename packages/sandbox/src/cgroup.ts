import { access, appendFile, mkdir, readdir, readFile, rmdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { codeOf, hasCode, MISSING, onCode, signalIfAlive } from "./errno.js";

/** A cgroup hierarchy this process may create children in, for one controller. */
interface Parent {
  controller: "pids" | "memory";
  version: 1 | 2;
  dir: string;
}

/** One run's cgroups: the `cgroup.procs` files its launcher joins, and the cleanup. */
export interface RunCgroup {
  procsFiles: string[];
  /** Kills whatever is left in the cgroups and removes them; cgroups gone already are fine. */
  close(): Promise<void>;
}

const ROOT = "/sys/fs/cgroup";
const PREFIX = "mllead-sandbox-";
let counter = 0;

/** This process's cgroup path per hierarchy, from /proc/self/cgroup ("2:pids:/a/b", "0::/a/b"). */
async function ownPaths(): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  // No /proc/self/cgroup: a kernel without cgroups, so no hierarchy to use.
  const text = await readFile("/proc/self/cgroup", "utf8").catch(onCode(MISSING, ""));
  for (const line of text.split("\n")) {
    const [, controllers, path] = /^\d+:([^:]*):(.*)$/.exec(line) ?? [];
    if (controllers === undefined || path === undefined) continue;
    for (const c of controllers.split(",")) out.set(c, path);
  }
  return out;
}

/**
 * What the kernel says when this process may not make or change a cgroup there: no permission (no
 * delegation), a read-only /sys/fs/cgroup, no such hierarchy, a controller it will not hand out (EINVAL,
 * ENOTSUP), or processes in the parent (EBUSY, cgroup v2's "no internal processes" rule).
 */
const REFUSED = ["EACCES", "EPERM", "EROFS", "ENOENT", "ENOTDIR", "EINVAL", "ENOTSUP", "EOPNOTSUPP", "EBUSY"];

const exists = (p: string) => access(p).then(() => true, onCode(MISSING, false));

/** Whether a child made under `dir` gets `file` (the controller is on there) and can be removed again. */
async function canMakeChild(dir: string, file: string): Promise<boolean> {
  const probe = join(dir, `${PREFIX}probe-${process.pid}-${counter++}`);
  try {
    await mkdir(probe);
  } catch (err) {
    if (hasCode(err, REFUSED)) return false;
    throw err;
  }
  const ok = await exists(join(probe, file));
  await removeCgroup(probe);
  return ok;
}

/** Removes run cgroups left by processes that died before cleaning up (their pid is in the name). */
async function sweep(dir: string): Promise<void> {
  for (const name of await readdir(dir).catch(onCode(MISSING, [] as string[]))) {
    const pid = Number(/^mllead-sandbox-(\d+)-\d+$/.exec(name)?.[1]);
    if (!pid || signalIfAlive(pid, 0)) continue;
    // Another sweeping process may have removed it first, or it still holds processes (left for the next sweep).
    await rmdir(join(dir, name)).catch(onCode([...MISSING, "EBUSY"], undefined));
  }
}

async function findParent(controller: "pids" | "memory", own: Map<string, string>): Promise<Parent | null> {
  const limitFile = controller === "pids" ? "pids.max" : "memory.max";
  if (await exists(join(ROOT, "cgroup.controllers"))) {
    const dir = join(ROOT, own.get("") ?? "/");
    if (await canMakeChild(dir, limitFile)) return { controller, version: 2, dir };
    // Refused when this cgroup holds processes (unless it is the root); the probe below tells.
    await appendFile(join(dir, "cgroup.subtree_control"), `+${controller}`).catch(onCode(REFUSED, undefined));
    return (await canMakeChild(dir, limitFile)) ? { controller, version: 2, dir } : null;
  }
  const path = own.get(controller);
  if (path === undefined) return null;
  const dir = join(ROOT, controller, path);
  const v1File = controller === "pids" ? "pids.max" : "memory.limit_in_bytes";
  return (await canMakeChild(dir, v1File)) ? { controller, version: 1, dir } : null;
}

/**
 * Makes per-run cgroups with a process limit (`pids.max`) and a memory limit, on
 * cgroup v2 (a delegated subtree, or root) or v1 (the pids and memory hierarchies).
 * This is what stops a fork bomb when we run as root: RLIMIT_NPROC is not enforced
 * for root, nor for a user namespace whose uid maps to root.
 */
export class CgroupLimiter {
  private constructor(
    private readonly pids: Parent | null,
    private readonly memory: Parent | null,
  ) {}

  /** Finds writable hierarchies; null when neither controller can be used here (read-only /sys/fs/cgroup, no delegation). */
  static async detect(): Promise<CgroupLimiter | null> {
    const own = await ownPaths();
    const pids = await findParent("pids", own);
    const memory = await findParent("memory", own);
    for (const p of [pids, memory]) if (p) await sweep(p.dir);
    return pids || memory ? new CgroupLimiter(pids, memory) : null;
  }

  /** Which limits this limiter enforces. */
  get controls(): { processes: boolean; memory: boolean } {
    return { processes: this.pids !== null, memory: this.memory !== null };
  }

  /** Makes the cgroups for one run (only for limits that are set); their procs files are what the launcher joins. */
  async create(limits: { processes?: number | undefined; memoryBytes?: number | undefined }): Promise<RunCgroup> {
    const name = `${PREFIX}${process.pid}-${counter++}`;
    const made: string[] = [];
    const close = async () => {
      for (const dir of made) await removeCgroup(dir);
    };
    try {
      if (this.pids && limits.processes !== undefined) {
        const dir = join(this.pids.dir, name);
        await mkdir(dir);
        made.push(dir);
        await writeFile(join(dir, "pids.max"), String(limits.processes));
      }
      if (this.memory && limits.memoryBytes !== undefined) {
        const dir = join(this.memory.dir, name); // on v2 the same directory as the pids one
        if (!made.includes(dir)) {
          await mkdir(dir);
          made.push(dir);
        }
        const bytes = String(limits.memoryBytes);
        if (this.memory.version === 2) {
          await writeFile(join(dir, "memory.max"), bytes);
          // No swapping around the limit: past it the sandbox's biggest process is killed.
          // Absent where the kernel does no swap accounting: nothing to turn off.
          await writeFile(join(dir, "memory.swap.max"), "0").catch(onCode(REFUSED, undefined));
        } else {
          await writeFile(join(dir, "memory.limit_in_bytes"), bytes);
          await writeFile(join(dir, "memory.memsw.limit_in_bytes"), bytes).catch(onCode(REFUSED, undefined));
        }
      }
    } catch (err) {
      await close();
      throw err;
    }
    return { procsFiles: made.map((d) => join(d, "cgroup.procs")), close };
  }
}

/** SIGKILLs what is left in a cgroup and removes it; a sandbox's pid namespace usually left nothing. */
async function removeCgroup(dir: string): Promise<void> {
  for (let i = 0; i < 50; i++) {
    // Gone: removed already (or never made).
    const procs = await readFile(join(dir, "cgroup.procs"), "utf8").catch(onCode(MISSING, null));
    if (procs === null) return;
    for (const pid of procs.split("\n").filter(Boolean)) signalIfAlive(Number(pid), "SIGKILL");
    try {
      await rmdir(dir);
      return;
    } catch (err) {
      if (codeOf(err) === "ENOENT") return;
      if (codeOf(err) !== "EBUSY") throw err;
      // Busy until the killed processes are reaped.
      await sleep(20);
    }
  }
}
