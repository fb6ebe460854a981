import { BaseConfig, loadConfig } from "@mllead/service-kit";
import type { IDaemonSet } from "kubernetes-models/apps/v1/DaemonSet";
import type { IDeployment } from "kubernetes-models/apps/v1/Deployment";
import type { z } from "zod";
import { RunnerConfig } from "../../services/gpu-runner/src/config.js";
import { checkGatewayConfig, GatewayConfig } from "../../services/slack-gateway/src/config.js";
import { SpecialistEnv } from "../../services/specialist-agent/src/config.js";
import { TechLeadConfig } from "../../services/tech-lead/src/config.js";
import type { Rendered } from "./k8s-render.js";

/** Each service's own variables (besides BaseConfig), as its main.ts hands them to runService. */
const SCHEMAS: Record<string, z.ZodObject> = {
  "tech-lead": TechLeadConfig,
  "slack-gateway": GatewayConfig,
  "specialist-agent": SpecialistEnv,
  "gpu-runner": RunnerConfig,
};

/** Variables read outside the services' schemas: the image's CMD (SERVICE), Node.js, the NVIDIA container runtime. */
const PROCESS_VARIABLES = ["SERVICE", "NODE_ENV", "NVIDIA_DRIVER_CAPABILITIES"];

/** A node name for `fieldRef: spec.nodeName` (the runner's RUNNER_ID). */
const NODE_NAME = "gpu-node-1.example.internal";

const find = (r: Rendered, kind: string, name: string) => r.objects.find((o) => o.kind === kind && o.metadata?.name === name);

/** A ConfigMap's data, or a Secret's decoded; a reference to an object that is not rendered is an error. */
function dataOf(r: Rendered, kind: "ConfigMap" | "Secret", name: string | undefined): Record<string, string> {
  const o = find(r, kind, name ?? "") as { data?: Record<string, string> } | undefined;
  if (!o) throw new Error(`a pod refers to ${kind}/${name}, which is not rendered`);
  const data = o.data ?? {};
  return kind === "ConfigMap"
    ? data
    : Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v, "base64").toString("utf8")]));
}

/** A key the pod refers to; a missing one keeps the kubelet from starting the container, so it is an error here too. */
function keyOf(data: Record<string, string>, key: string): string {
  const value = data[key];
  if (value === undefined) throw new Error(`a pod refers to the key ${key}, which is not there`);
  return value;
}

/**
 * The environment the kubelet gives the workload's first container: its `envFrom` ConfigMaps and Secrets, then its
 * `env` (values, ConfigMap and Secret keys, and the node's name for `spec.nodeName`).
 */
export function serviceEnv(r: Rendered, w: IDeployment | IDaemonSet): Record<string, string> {
  const c = w.spec?.template.spec?.containers[0];
  const env: Record<string, string> = {};
  for (const from of c?.envFrom ?? []) {
    if (from.configMapRef) Object.assign(env, dataOf(r, "ConfigMap", from.configMapRef.name));
    if (from.secretRef) Object.assign(env, dataOf(r, "Secret", from.secretRef.name));
  }
  for (const e of c?.env ?? []) {
    const ref = e.valueFrom;
    if (e.value !== undefined) env[e.name] = e.value;
    else if (ref?.fieldRef?.fieldPath === "spec.nodeName") env[e.name] = NODE_NAME;
    else if (ref?.configMapKeyRef) env[e.name] = keyOf(dataOf(r, "ConfigMap", ref.configMapKeyRef.name), ref.configMapKeyRef.key);
    else if (ref?.secretKeyRef) env[e.name] = keyOf(dataOf(r, "Secret", ref.secretKeyRef.name), ref.secretKeyRef.key);
    else throw new Error(`${c?.name}: no value for ${e.name}`);
  }
  return env;
}

/** Variables in `env` that no service reads (a misspelt name would otherwise be ignored in silence). */
export function unknownVariables(env: Record<string, string>): string[] {
  const known = new Set([
    ...PROCESS_VARIABLES,
    ...Object.keys(BaseConfig.shape),
    ...Object.values(SCHEMAS).flatMap((s) => Object.keys(s.shape)),
  ]);
  return Object.keys(env).filter((k) => !known.has(k));
}

/** The service's configuration parsed from `env` as runService parses it; throws the service's ConfigError. */
export function parseServiceConfig(service: string, env: Record<string, string>): Record<string, unknown> {
  const schema = SCHEMAS[service];
  if (!schema) throw new Error(`no configuration schema for ${service}`);
  const config = loadConfig(BaseConfig.extend(schema.shape), env) as Record<string, unknown>;
  if (service === "slack-gateway") checkGatewayConfig(config as z.output<typeof GatewayConfig>);
  return config;
}
