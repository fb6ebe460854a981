import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort } from "./nats-server.js";

const run = promisify(execFile);

/** What to install where the daemons are missing (CI's `.ci/run` does it). */
export const SLURM_INSTALL_HINT = "install Debian's slurm-wlm and munge (apt-get install slurm-wlm munge)";

/** A one-node Slurm cluster of the test's own: munged, slurmctld and slurmd as child processes. */
export interface SlurmCluster extends AsyncDisposable {
  /** The cluster's temporary directory (state, spool, logs, config). */
  dir: string;
  /** The generated slurm.conf; CLIs find the cluster through `env.SLURM_CONF`. */
  conf: string;
  /** What a process needs in its environment to use this cluster's CLIs (sbatch, squeue, scontrol, scancel). */
  env: { SLURM_CONF: string };
  /** Runs a Slurm CLI against this cluster; its stdout. */
  cli(cmd: string, args: readonly string[]): Promise<string>;
  /** The daemons' own log lines (slurmctld and slurmd), for a failing test's message. */
  logs(): string;
  stop(): Promise<void>;
}

/** Options for `startSlurmCluster`. */
export interface SlurmClusterOptions {
  /** GPUs the node advertises as `gres/gpu` (fake device files). Default 2. */
  gpus?: number;
  /** CPUs of the node (how many one-CPU jobs run at once). Default 4. */
  cpus?: number;
}

interface Daemon {
  name: string;
  proc: ChildProcess;
  out: string[];
  exited: Promise<void>;
}

function startDaemon(name: string, bin: string, args: string[], env: Record<string, string>): Daemon {
  const proc = spawn(bin, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  const out: string[] = [];
  const keep = (d: Buffer) => out.push(...d.toString().split("\n").filter(Boolean));
  proc.stdout?.on("data", keep);
  proc.stderr?.on("data", keep);
  const exited = new Promise<void>((r) => proc.once("exit", () => r()));
  return { name, proc, out, exited };
}

async function stopDaemon(d: Daemon): Promise<void> {
  if (d.proc.exitCode !== null || d.proc.signalCode !== null) return;
  d.proc.kill("SIGTERM");
  const killer = setTimeout(() => d.proc.kill("SIGKILL"), 10_000);
  await d.exited;
  clearTimeout(killer);
}

/** Waits until `check` answers true, asking every `everyMs`; throws `what` (with `detail()`) after `timeoutMs`. */
async function until(check: () => Promise<boolean>, what: string, detail: () => string, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > end) throw new Error(`${what} within ${timeoutMs} ms\n${detail()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The cluster's slurm.conf: one node `localhost` with `gpus` GPUs, no cgroups, no accounting database. */
function slurmConf(dir: string, p: { ctld: number; slurmd: number; cpus: number; gpus: number }): string {
  return `${[
    "ClusterName=mllead-test",
    "SlurmctldHost=localhost",
    `SlurmctldPort=${p.ctld}`,
    `SlurmdPort=${p.slurmd}`,
    "SlurmUser=root",
    "SlurmdUser=root",
    "AuthType=auth/munge",
    "CredType=cred/munge",
    `AuthInfo=socket=${join(dir, "munge", "munge.socket")}`,
    `StateSaveLocation=${join(dir, "state")}`,
    `SlurmdSpoolDir=${join(dir, "spool")}`,
    `SlurmctldPidFile=${join(dir, "slurmctld.pid")}`,
    `SlurmdPidFile=${join(dir, "slurmd.pid")}`,
    `SlurmctldLogFile=${join(dir, "log", "slurmctld.log")}`,
    `SlurmdLogFile=${join(dir, "log", "slurmd.log")}`,
    "ProctrackType=proctrack/linuxproc",
    "TaskPlugin=task/none",
    "SelectType=select/cons_tres",
    "SelectTypeParameters=CR_Core",
    "GresTypes=gpu",
    "JobAcctGatherType=jobacct_gather/none",
    "AccountingStorageType=accounting_storage/none",
    "JobCompType=jobcomp/none",
    // Finished jobs stay known to `scontrol show job` for 5 minutes (no accounting database to ask later).
    "MinJobAge=300",
    "SchedulerType=sched/backfill",
    "ReturnToService=2",
    "MpiDefault=none",
    // The node has the CPUs this file says, whatever the machine has (a test node is not sized to its host).
    "SlurmdParameters=config_overrides",
    `NodeName=localhost NodeAddr=127.0.0.1 CPUs=${p.cpus} RealMemory=1000 Gres=gpu:${p.gpus} State=UNKNOWN`,
    "PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP",
  ].join("\n")}\n`;
}

/**
 * A GPU's device file for gres.conf: Slurm counts a GPU only with a `File=` that is a character device, so the
 * test makes one with /dev/null's numbers (mknod needs root, which the daemons need anyway).
 */
async function fakeGpuDevice(path: string): Promise<void> {
  await run("mknod", [path, "c", "1", "3"]);
}

/**
 * Starts a real one-node Slurm cluster in a temporary directory: a generated munge key and `munged` on its own
 * socket, a generated slurm.conf and gres.conf (`gpus` fake GPU device files), `slurmctld -D` and `slurmd -D`
 * as children; resolves when the node is idle. Needs root, slurm-wlm and munge. Dispose to cancel every job,
 * stop the daemons and delete the directory.
 */
export async function startSlurmCluster(opts: SlurmClusterOptions = {}): Promise<SlurmCluster> {
  for (const bin of ["/usr/sbin/slurmctld", "/usr/sbin/slurmd", "/usr/sbin/munged", "/usr/sbin/mungekey"])
    if (!existsSync(bin))
      throw new Error(`the Slurm tests start their own cluster, but ${bin} is missing: ${SLURM_INSTALL_HINT}`);
  const gpus = opts.gpus ?? 2;
  const dir = await mkdtemp(join(tmpdir(), "mllead-slurm-"));
  for (const sub of ["munge", "state", "spool", "log", "dev"]) await mkdir(join(dir, sub));
  // munged wants its key private and its socket's directory searchable by all (clients run as any user).
  await chmod(join(dir, "munge"), 0o711);
  const key = join(dir, "munge", "munge.key");
  await run("/usr/sbin/mungekey", ["-c", "-b", "1024", "-k", key]);
  const socket = join(dir, "munge", "munge.socket");
  const conf = join(dir, "slurm.conf");
  const env = { SLURM_CONF: conf };
  const daemons: Daemon[] = [];
  const logs = () => daemons.map((d) => `--- ${d.name}\n${d.out.slice(-40).join("\n")}`).join("\n");
  const cli = async (cmd: string, args: readonly string[]) =>
    (await run(cmd, [...args], { env: { ...process.env, ...env }, timeout: 30_000 })).stdout;
  const stop = async () => {
    const ctld = daemons.find((d) => d.name === "slurmctld");
    if (ctld && ctld.proc.exitCode === null) {
      // Jobs run under slurmstepd, which outlives slurmd: cancel them, so no job outlives its cluster.
      await cli("scancel", ["--partition=debug"]).catch((err: unknown) => console.warn("scancel at cluster stop failed", err));
    }
    for (const d of [...daemons].reverse()) await stopDaemon(d);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    daemons.push(
      startDaemon(
        "munged",
        "/usr/sbin/munged",
        [
          "-F",
          "-f",
          `--socket=${socket}`,
          `--key-file=${key}`,
          `--log-file=${join(dir, "munge", "munged.log")}`,
          `--pid-file=${join(dir, "munge", "munged.pid")}`,
          `--seed-file=${join(dir, "munge", "munged.seed")}`,
        ],
        {},
      ),
    );
    await until(async () => existsSync(socket), "munged did not make its socket", logs);
    const devices = Array.from({ length: gpus }, (_, i) => join(dir, "dev", `gpu${i}`));
    for (const d of devices) await fakeGpuDevice(d);
    const ports = { ctld: await freePort(), slurmd: await freePort(), cpus: opts.cpus ?? 4, gpus };
    await writeFile(conf, slurmConf(dir, ports));
    await writeFile(join(dir, "gres.conf"), devices.map((d) => `NodeName=localhost Name=gpu File=${d}\n`).join(""));
    daemons.push(startDaemon("slurmctld", "/usr/sbin/slurmctld", ["-D", "-i"], env));
    daemons.push(startDaemon("slurmd", "/usr/sbin/slurmd", ["-D", "-N", "localhost"], env));
    await until(
      async () => (await cli("sinfo", ["-h", "-N", "-o", "%t"]).catch(() => "")).trim() === "idle",
      "the Slurm node did not become idle",
      logs,
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return { dir, conf, env, cli, logs, stop, [Symbol.asyncDispose]: stop };
}
