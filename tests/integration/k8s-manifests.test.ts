import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT, SERVICE_NAMES } from "@mllead/tools/services";
import type { IDaemonSet } from "kubernetes-models/apps/v1/DaemonSet";
import type { IDeployment } from "kubernetes-models/apps/v1/Deployment";
import type { IPodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import type { IConfigMap } from "kubernetes-models/v1/ConfigMap";
import type { IContainer } from "kubernetes-models/v1/Container";
import type { IPodTemplateSpec } from "kubernetes-models/v1/PodTemplateSpec";
import type { ISecret } from "kubernetes-models/v1/Secret";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { K8S_DIR, type Rendered, renderKustomization } from "../helpers/k8s-render.js";
import { type K8sObject, objectName, validateObjects } from "../helpers/k8s-schemas.js";
import { parseServiceConfig, serviceEnv, unknownVariables } from "../helpers/k8s-service-env.js";

let rendered: Rendered;
const all = () => rendered.objects;
const ofKind = <T>(kind: string) => all().filter((o) => o.kind === kind) as unknown as T[];
const named = <T>(kind: string, name: string) => {
  const o = all().find((x) => x.kind === kind && x.metadata?.name === name);
  if (!o) throw new Error(`${kind}/${name} is not rendered`);
  return o as unknown as T;
};
/** A generated ConfigMap or Secret, whose name carries a hash of its content. */
const generated = <T>(kind: "ConfigMap" | "Secret", name: string) => {
  const found = all().filter((o) => o.kind === kind && new RegExp(`^${name}-[a-z0-9]{10}$`).test(o.metadata?.name ?? ""));
  expect(found, `${kind} ${name}-<hash>`).toHaveLength(1);
  return found[0] as unknown as T;
};
/** The four services' workloads: three Deployments and the runner's DaemonSet. */
const workloads = () => [...ofKind<IDeployment>("Deployment"), ...ofKind<IDaemonSet>("DaemonSet")];
const templateOf = (w: IDeployment | IDaemonSet): IPodTemplateSpec => w.spec?.template ?? {};
const containersOf = (w: IDeployment | IDaemonSet): IContainer[] => [
  ...(templateOf(w).spec?.containers ?? []),
  ...(templateOf(w).spec?.initContainers ?? []),
];
const SANDBOXED = ["specialist-agent", "gpu-runner"];

beforeAll(async () => {
  rendered = await renderKustomization();
});
afterAll(async () => {
  await rendered?.dispose();
});

describe("Kubernetes manifests (infra/k8s, rendered by kubectl kustomize)", () => {
  it("renders the four services, and every object is valid against the Kubernetes schemas", async () => {
    expect(
      workloads()
        .map((w) => `${w.kind}/${w.metadata?.name}`)
        .sort(),
    ).toEqual(["DaemonSet/gpu-runner", "Deployment/slack-gateway", "Deployment/specialist-agent", "Deployment/tech-lead"]);
    expect(SERVICE_NAMES.every((s) => workloads().some((w) => w.metadata?.name === s))).toBe(true);
    expect(await validateObjects(all())).toEqual([]);
    for (const o of all()) if (o.kind !== "Namespace") expect(o.metadata?.namespace, objectName(o)).toBe("mllead");
  });

  it("the schema check refuses an unknown field, a wrong type, a missing required field and an unknown kind", async () => {
    const spec = named<K8sObject>("Deployment", "specialist-agent");
    // Copies of a valid Deployment, each with one mistake and a name that says which.
    const broken = (name: string, edit: (c: Record<string, unknown>, d: IDeployment) => void) => {
      const d = structuredClone(spec) as unknown as IDeployment;
      const c = d.spec?.template.spec?.containers[0];
      if (!c || !d.metadata) throw new Error("no container");
      d.metadata.name = name;
      edit(c as unknown as Record<string, unknown>, d);
      return d as unknown as K8sObject;
    };
    const problems = await validateObjects([
      broken("typo", (c) => Object.assign(c, { securityContxt: { runAsUser: 0 } })),
      broken("nested", (c) => Object.assign(c, { readinessProbe: { httpGet: { path: "/readyz", prot: 1 } } })),
      broken("type", (c) => Object.assign(c, { securityContext: { runAsUser: "1000" } })),
      broken("required", (_c, d) => delete (d.spec as { selector?: unknown }).selector),
      { apiVersion: "apps/v1", kind: "Deploymnet", metadata: { name: "kind" } },
      spec,
    ]);
    const about = (name: string) => problems.filter((p) => p.startsWith(`${name}: `)).join("\n");
    expect(about("Deployment/typo")).toMatch(/'"?securityContxt"?' does not exist in type 'IContainer'/);
    expect(about("Deployment/nested")).toMatch(/'"?prot"?' does not exist in type 'IHTTPGetAction'/);
    expect(about("Deployment/type")).toMatch(/runAsUser must be integer/);
    expect(about("Deployment/required")).toMatch(/selector/);
    expect(about("Deploymnet/kind")).toBe("Deploymnet/kind: no schema for apps/v1 Deploymnet");
    // The unbroken object passes, so each failure is its edit's.
    expect(about("Deployment/specialist-agent")).toBe("");
  });

  it("every container runs as node (uid 1000), never root, with no privilege escalation or capability, on a read-only root", () => {
    for (const w of workloads()) {
      const pod = templateOf(w).spec;
      expect(pod?.securityContext?.runAsNonRoot, objectName(w as K8sObject)).toBe(true);
      expect(pod?.securityContext?.runAsUser).toBe(1000);
      expect(pod?.hostNetwork ?? false).toBe(false);
      expect(pod?.hostPID ?? false).toBe(false);
      expect(pod?.automountServiceAccountToken).toBe(false);
      const emptyDirs = new Set((pod?.volumes ?? []).filter((v) => v.emptyDir).map((v) => v.name));
      for (const c of containersOf(w)) {
        const sc = c.securityContext;
        expect(sc?.runAsNonRoot, c.name).toBe(true);
        expect(sc?.runAsUser ?? pod?.securityContext?.runAsUser, c.name).toBe(1000);
        expect(sc?.privileged ?? false, c.name).toBe(false);
        expect(sc?.allowPrivilegeEscalation, c.name).toBe(false);
        expect(sc?.readOnlyRootFilesystem, c.name).toBe(true);
        expect(sc?.capabilities?.drop, c.name).toEqual(["ALL"]);
        expect(sc?.capabilities?.add ?? [], c.name).toEqual([]);
        // The only writable places: emptyDirs, /tmp among them.
        const writable = (c.volumeMounts ?? []).filter((m) => !m.readOnly);
        for (const m of writable) expect(emptyDirs.has(m.name), `${c.name} ${m.mountPath}`).toBe(true);
        expect(writable.map((m) => m.mountPath)).toContain("/tmp");
      }
    }
  });

  it("each service runs the one image's default command, with startup, liveness and readiness probes and resources", () => {
    const images = new Set(workloads().flatMap((w) => containersOf(w).map((c) => c.image)));
    expect([...images]).toEqual(["mllead:latest"]);
    for (const w of workloads()) {
      const [c, ...more] = containersOf(w);
      expect(more).toEqual([]);
      if (!c) throw new Error(`${w.metadata?.name}: no container`);
      expect(c.command ?? c.args).toBeUndefined();
      expect(c.env?.find((e) => e.name === "SERVICE")?.value).toBe(w.metadata?.name);
      const http = c.ports?.find((p) => p.name === "http");
      expect(http?.containerPort, c.name).toBe(w.metadata?.name === "slack-gateway" ? 3000 : 8080);
      // The port it listens on (GATEWAY_PORT for the gateway, PORT for the others) is the port probed.
      const env = serviceEnv(rendered, w);
      expect(Number(w.metadata?.name === "slack-gateway" ? env.GATEWAY_PORT : env.PORT)).toBe(http?.containerPort);
      expect(c.livenessProbe?.httpGet).toEqual({ path: "/healthz", port: "http" });
      expect(c.readinessProbe?.httpGet).toEqual({ path: "/readyz", port: "http" });
      expect(c.startupProbe?.httpGet).toEqual({ path: "/healthz", port: "http" });
      for (const r of ["cpu", "memory"]) {
        expect(c.resources?.requests?.[r], `${c.name} requests ${r}`).toBeDefined();
        expect(c.resources?.limits?.[r], `${c.name} limits ${r}`).toBeDefined();
      }
    }
  });

  it("a PodDisruptionBudget covers each Deployment and still lets a node drain", () => {
    const pdbs = ofKind<IPodDisruptionBudget>("PodDisruptionBudget");
    for (const d of ofKind<IDeployment>("Deployment")) {
      const labels = templateOf(d).metadata?.labels ?? {};
      const covering = pdbs.filter((p) =>
        Object.entries(p.spec?.selector?.matchLabels ?? { none: "" }).every(([k, v]) => labels[k] === v),
      );
      expect(covering, d.metadata?.name).toHaveLength(1);
      expect(Number(covering[0]?.spec?.minAvailable)).toBeLessThan(d.spec?.replicas ?? 1);
    }
  });

  it("the GPU runner is a DaemonSet on GPU nodes, tolerating their taint, asking for nvidia.com/gpu, with a stable id", () => {
    const ds = named<IDaemonSet>("DaemonSet", "gpu-runner");
    const pod = templateOf(ds).spec;
    expect(pod?.nodeSelector?.["nvidia.com/gpu.present"]).toBe("true");
    expect(pod?.tolerations).toContainEqual({ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" });
    const c = pod?.containers[0];
    expect(Number(c?.resources?.limits?.["nvidia.com/gpu"])).toBeGreaterThanOrEqual(1);
    expect(c?.env?.find((e) => e.name === "RUNNER_ID")?.valueFrom?.fieldRef?.fieldPath).toBe("spec.nodeName");
    // Nothing else asks for a GPU.
    for (const w of workloads())
      if (w !== ds) for (const x of containersOf(w)) expect(x.resources?.limits?.["nvidia.com/gpu"]).toBeUndefined();
  });

  it("only the specialist and the runner get what bubblewrap needs; the others keep the runtime's seccomp profile", () => {
    for (const w of workloads()) {
      const name = w.metadata?.name ?? "";
      const pod = templateOf(w).spec;
      const c = containersOf(w)[0]?.securityContext;
      if (SANDBOXED.includes(name)) {
        expect(pod?.hostUsers, name).toBe(false);
        expect(c?.seccompProfile, name).toEqual({ type: "Unconfined" });
        expect(c?.appArmorProfile, name).toEqual({ type: "Unconfined" });
        expect(c?.procMount, name).toBe("Unmasked");
        expect(serviceEnv(rendered, w).MLLEAD_SANDBOX, name).toBe("bubblewrap");
      } else {
        expect(pod?.securityContext?.seccompProfile, name).toEqual({ type: "RuntimeDefault" });
        expect(JSON.stringify(pod)).not.toMatch(/Unconfined|Unmasked/);
      }
    }
  });

  it("each service's configuration, as its pod gets it, parses; every variable set is one a service reads", () => {
    for (const w of workloads()) {
      const name = w.metadata?.name ?? "";
      const env = serviceEnv(rendered, w);
      expect(unknownVariables(env), name).toEqual([]);
      const config = parseServiceConfig(name, env);
      expect(config.HOST, name).toBe("0.0.0.0");
      // NATS_CREDS names the seed its own Secret puts in the pod.
      const mount = containersOf(w)[0]?.volumeMounts?.find((m) => m.name === "nats-seed");
      expect(config.NATS_CREDS, name).toBe(`${mount?.mountPath}/seed`);
      expect(mount?.readOnly, name).toBe(true);
    }
    const config = generated<IConfigMap>("ConfigMap", "mllead-config").data ?? {};
    expect(config.NATS_URL).toBe("nats://nats:4222");
    expect(config.MLLEAD_STREAM_REPLICAS).toBe("3");
  });

  it("secrets come only from the operator's files: in Secrets, mounted or referenced, never in another object or a committed file", () => {
    const decoded = ofKind<ISecret>("Secret").flatMap((x) =>
      Object.values(x.data ?? {}).map((v) => Buffer.from(v, "base64").toString("utf8")),
    );
    // Every secret value is in a Secret, and none anywhere else (nor base64-encoded).
    const elsewhere = JSON.stringify(all().filter((o) => o.kind !== "Secret"));
    for (const v of rendered.secretValues) {
      expect(decoded.some((d) => d.trim() === v)).toBe(true);
      expect(elsewhere).not.toContain(v);
      expect(elsewhere).not.toContain(Buffer.from(v).toString("base64").slice(0, 24));
    }
    // Each service holds its own NATS seed, and only the secrets it needs.
    const needs: Record<string, string[]> = {
      "tech-lead": ["mllead-anthropic", "mllead-nats-tech-lead"],
      "slack-gateway": ["mllead-slack", "mllead-nats-slack-gateway"],
      "specialist-agent": ["mllead-anthropic", "mllead-nats-specialist-agent"],
      "gpu-runner": ["mllead-nats-gpu-runner"],
    };
    for (const w of workloads()) {
      const pod = templateOf(w).spec;
      const refs = [
        ...(pod?.volumes ?? []).flatMap((v) => (v.secret?.secretName ? [v.secret.secretName] : [])),
        ...containersOf(w).flatMap((c) => (c.envFrom ?? []).flatMap((e) => (e.secretRef?.name ? [e.secretRef.name] : []))),
        ...containersOf(w).flatMap((c) => (c.env ?? []).flatMap((e) => e.valueFrom?.secretKeyRef?.name ?? [])),
      ].map((n) => n.replace(/-[a-z0-9]{10}$/, ""));
      expect(refs.sort(), w.metadata?.name).toEqual(needs[w.metadata?.name ?? ""]?.sort());
      // The seed file: readable by the node user (group 1000 through fsGroup), by nobody else.
      expect(pod?.volumes?.find((v) => v.name === "nats-seed")?.secret?.defaultMode).toBe(0o440);
      expect(pod?.securityContext?.fsGroup).toBe(1000);
      for (const c of containersOf(w))
        for (const e of c.env ?? []) if (/TOKEN|SECRET|KEY|PASSWORD|SEED/.test(e.name)) expect(e.value, e.name).toBeUndefined();
    }
    const seed = generated<ISecret>("Secret", "mllead-nats-tech-lead").data?.seed ?? "";
    expect(Buffer.from(seed, "base64").toString("utf8")).toBe(rendered.secretFiles.get("nats/tech-lead.nk"));
    // Nothing committed (or about to be) under infra/k8s looks like a token, a key or a seed, and the operator's files are ignored.
    const files = execFileSync("git", ["ls-files", "--cached", "--others", "--exclude-standard", "infra/k8s"], {
      cwd: REPO_ROOT,
      encoding: "utf8",
    });
    for (const f of files.split("\n").filter(Boolean))
      expect(readFileSync(join(REPO_ROOT, f), "utf8"), f).not.toMatch(/xox[abpr]-\w|xapp-\w|sk-ant-\w|\bS[A-Z2-7]{57}\b/);
    const probe = ["secrets/slack.env", "secrets/anthropic.env", "secrets/nats/tech-lead.nk"].map((f) => join(K8S_DIR, f));
    const ignored = execFileSync("git", ["check-ignore", ...probe], { cwd: REPO_ROOT, encoding: "utf8" });
    expect(ignored.trim().split("\n")).toHaveLength(probe.length);
  });
});
