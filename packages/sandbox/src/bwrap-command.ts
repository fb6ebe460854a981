import { bubblewrapArgs, bubblewrapEnv, detectHostLayout, hiddenArgs, hiddenArgsData, innerCommand } from "./bwrap-args.js";
import { resolvePolicy, type SandboxPolicy } from "./policy.js";

/** A bwrap command line for a launcher that starts bwrap itself, elsewhere (a Slurm batch script on a compute node). */
export interface BubblewrapCommand {
  /** bwrap's options, up to and including `--args <fd>`; nothing secret (paths and namespaces). */
  options: string[];
  /** The fd the options read the rest from (the command's environment): open `hidden` there before bwrap starts. */
  fd: number;
  /** What bwrap reads from `fd`: the `--setenv` options of the command's environment, NUL-separated. */
  hidden: Buffer;
  /** What follows `--`: the command wrapped the way the sandbox runs it (`sh -c 'exec "$@"'`). */
  command: string[];
}

/**
 * The same bwrap invocation `createSandbox`'s bubblewrap sandbox makes for `argv` under `policy` (the host's
 * system dirs read-only, the policy's binds, fresh namespaces, no capabilities, the environment exactly `env`
 * out of sight of `ps`), for a launcher that runs it on another machine of the same image. Limits are not
 * applied here: the launcher's scheduler (Slurm's cgroups) enforces its own. Throws `SandboxPolicyError` for a
 * policy or cwd that cannot be applied.
 */
export async function bubblewrapCommand(
  policy: SandboxPolicy,
  cwd: string,
  env: Readonly<Record<string, string>>,
  argv: readonly string[],
): Promise<BubblewrapCommand> {
  const resolved = await resolvePolicy(policy, cwd);
  const [, fd] = hiddenArgs();
  return {
    options: [...bubblewrapArgs(await detectHostLayout(), resolved), ...hiddenArgs()],
    fd: Number(fd),
    hidden: hiddenArgsData(bubblewrapEnv(resolved, env)),
    command: innerCommand(argv),
  };
}
