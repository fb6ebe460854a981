import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { ensureNkeyUsers } from "@mllead/tools/nats-auth";
import { REPO_ROOT, SERVICE_NAMES } from "@mllead/tools/services";
import { parse, parseAllDocuments } from "yaml";
import type { K8sObject } from "./k8s-schemas.js";

const run = promisify(execFile);

/** The kustomization of the four services. */
export const K8S_DIR = join(REPO_ROOT, "infra", "k8s");

/** Runs kubectl (`KUBECTL`, else `kubectl` on PATH); a missing kubectl is an error that says what to install. */
export async function kubectl(args: readonly string[]): Promise<string> {
  const bin = process.env.KUBECTL ?? "kubectl";
  try {
    const { stdout } = await run(bin, args, { maxBuffer: 32 * 1024 * 1024 });
    return stdout;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") {
      throw new Error(
        `${bin} not found: rendering infra/k8s needs kubectl 1.20 or later (its built-in kustomize); on Debian ` +
          "`apt-get install kubernetes-client` (.ci/run does), or set KUBECTL to a kubectl binary",
        { cause: err },
      );
    }
    throw err;
  }
}

/** The rendered kustomization, with the made-up secrets it was rendered with. */
export interface Rendered {
  objects: K8sObject[];
  /** Every secret value the operator's files held (tokens, the key, the nkey seeds). */
  secretValues: string[];
  /** What each file of infra/k8s/secrets/ held, by its path there (e.g. `nats/tech-lead.nk`). */
  secretFiles: Map<string, string>;
  /**
   * The NATS servers' ConfigMap of public nkeys, made from the same keys' `nats.env` by the command
   * nats-values.yaml gives (`kubectl create configmap mllead-nats-nkeys --from-env-file=…`).
   */
  natsNkeys: K8sObject;
  /** The temporary directory (deleted by `dispose`). */
  dir: string;
  dispose(): Promise<void>;
}

const hex = (bytes: number) => randomBytes(bytes).toString("hex");

/** The files secrets/README.md asks the operator for, with fresh values (real nkeys from `pnpm nats:credentials`' code). */
async function operatorSecrets(dir: string): Promise<Map<string, string>> {
  const files = new Map<string, string>([
    [
      "slack.env",
      `SLACK_BOT_TOKEN=xoxb-${hex(12)}\nSLACK_SIGNING_SECRET=${hex(16)}\nSLACK_APP_TOKEN=xapp-1-${hex(12)}\nMLLEAD_ARTIFACT_LINK_SECRET=${hex(32)}\n`,
    ],
    ["anthropic.env", `ANTHROPIC_API_KEY=sk-ant-api03-${hex(24)}\n`],
  ]);
  const auth = join(dir, "nats-auth");
  await ensureNkeyUsers(auth);
  // As secrets/README.md says: each service's seed, copied from .mllead/nats-auth/ (here, the temporary one).
  for (const service of SERVICE_NAMES) files.set(`nats/${service}.nk`, await readFile(join(auth, `${service}.nk`), "utf8"));
  const secrets = join(dir, "k8s", "secrets");
  await mkdir(join(secrets, "nats"), { recursive: true });
  for (const [name, text] of files) await writeFile(join(secrets, name), text, { mode: 0o600 });
  return files;
}

/** The values of the secret files: each `NAME=value` of an env file, and each seed. */
function valuesOf(files: Map<string, string>): string[] {
  return [...files].flatMap(([name, text]) =>
    name.endsWith(".env")
      ? text
          .split("\n")
          .map((l) => l.slice(l.indexOf("=") + 1))
          .filter(Boolean)
      : [text.trim()],
  );
}

/**
 * Copies infra/k8s into a temporary directory, adds the operator's secret files there (made up, never real) and
 * renders it with `kubectl kustomize`, as `kubectl apply -k` would.
 */
export async function renderKustomization(): Promise<Rendered> {
  const dir = await mkdtemp(join(tmpdir(), "mllead-k8s-"));
  const dispose = () => rm(dir, { recursive: true, force: true });
  try {
    await cp(K8S_DIR, join(dir, "k8s"), { recursive: true });
    const secretFiles = await operatorSecrets(dir);
    const text = await kubectl(["kustomize", join(dir, "k8s")]);
    const objects = parseAllDocuments(text).map((d) => d.toJS() as K8sObject);
    const nkeys = [
      "create",
      "configmap",
      "mllead-nats-nkeys",
      "-n",
      "mllead",
      `--from-env-file=${join(dir, "nats-auth", "nats.env")}`,
    ];
    const natsNkeys = parse(await kubectl([...nkeys, "--dry-run=client", "-o", "yaml"])) as K8sObject;
    return { objects, secretValues: valuesOf(secretFiles), secretFiles, natsNkeys, dir, dispose };
  } catch (err) {
    await dispose();
    throw err;
  }
}
