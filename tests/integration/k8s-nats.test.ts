import type { ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { copyFile, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { credsFileAuthenticator } from "@mllead/bus";
import { startNatsServerWithConfig } from "@mllead/tools/nats";
import { NATS_IDENTITIES, nkeyVariable } from "@mllead/tools/nats-auth";
import { freePort, natsServerBin } from "@mllead/tools/nats-server";
import { REPO_ROOT, SERVICE_NAMES } from "@mllead/tools/services";
import { connect } from "@nats-io/transport-node";
import type { IConfigMap } from "kubernetes-models/v1/ConfigMap";
import type { ISecret } from "kubernetes-models/v1/Secret";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { K8S_DIR, type Rendered, renderKustomization } from "../helpers/k8s-render.js";
import { validateObjects } from "../helpers/k8s-schemas.js";

interface NatsValues {
  config: {
    cluster: { enabled: boolean; replicas: number };
    jetstream: { enabled: boolean; fileStore: { enabled: boolean; pvc: { enabled: boolean; size: string } } };
    merge: Record<string, unknown>;
  };
  container: { env: Record<string, { valueFrom?: { configMapKeyRef?: { name: string; key: string } } }> };
}

const VALUES_TEXT = readFileSync(join(K8S_DIR, "nats-values.yaml"), "utf8");
const values = parse(VALUES_TEXT) as NatsValues;
const USERS = readFileSync(join(REPO_ROOT, "infra", "nats-users.conf"), "utf8");

let rendered: Rendered;
beforeAll(async () => {
  rendered = await renderKustomization();
});
afterAll(async () => {
  await rendered?.dispose();
});

/** The public nkeys as the NATS container gets them: each `container.env` entry, read from the ConfigMap. */
function natsEnv(): Record<string, string> {
  const data = (rendered.natsNkeys as unknown as IConfigMap).data ?? {};
  const env: Record<string, string> = {};
  for (const [name, source] of Object.entries(values.container.env)) {
    const ref = source.valueFrom?.configMapKeyRef;
    expect(ref?.name, name).toBe(rendered.natsNkeys.metadata?.name);
    const value = data[ref?.key ?? ""];
    if (value === undefined) throw new Error(`${name}: the ConfigMap has no key ${ref?.key}`);
    env[name] = value;
  }
  return env;
}

describe("NATS Helm values (infra/k8s/nats-values.yaml)", () => {
  it("a 3-node cluster with JetStream on a PersistentVolumeClaim per server, as many copies as the services keep", () => {
    expect(values.config.cluster).toMatchObject({ enabled: true, replicas: 3 });
    expect(values.config.jetstream).toMatchObject({ enabled: true, fileStore: { enabled: true, pvc: { enabled: true } } });
    expect(values.config.jetstream.fileStore.pvc.size).toMatch(/^\d+(Gi|Ti)$/);
    const config = rendered.objects.find((o) => o.kind === "ConfigMap" && /^mllead-config-/.test(o.metadata?.name ?? ""));
    expect((config as unknown as IConfigMap | undefined)?.data?.MLLEAD_STREAM_REPLICAS).toBe(
      String(values.config.cluster.replicas),
    );
    // The release `nats` in the namespace `mllead` is the Service the pods' NATS_URL names.
    expect(VALUES_TEXT).toContain("helm install nats nats/nats -n mllead -f infra/k8s/nats-values.yaml");
    expect((config as unknown as IConfigMap | undefined)?.data?.NATS_URL).toBe("nats://nats:4222");
  });

  it("every NATS user of infra/nats-users.conf, each public nkey from the ConfigMap the install command makes", async () => {
    expect(values.config.merge.$include).toBe("./nats-users.conf");
    const variables = [...USERS.matchAll(/\$(MLLEAD_NATS_\w+_NKEY)/g)].map((m) => m[1] ?? "");
    expect(variables.sort()).toEqual(NATS_IDENTITIES.map(nkeyVariable).sort());
    expect(Object.keys(natsEnv()).sort()).toEqual(variables);
    expect(await validateObjects([rendered.natsNkeys])).toEqual([]);
    // The install command puts both committed files beside the chart's nats.conf, where the include finds them.
    for (const f of ["nats-users.conf", "nats-permissions.conf"])
      expect(VALUES_TEXT).toContain(`--set-file 'configMap.merge.data.${f.replace(".", "\\.")}=infra/${f}'`);
    expect(USERS).toContain('include "nats-permissions.conf"');
  });

  it("a nats-server with these users lets each service in with the seed from its Secret, and nobody without one", async () => {
    // /etc/nats-config as the chart lays it out: nats.conf with config.merge (max_payload, the include) and the
    // two files --set-file adds beside it; the public keys in the environment as container.env gives them.
    const dir = join(rendered.dir, "nats-config");
    await mkdir(dir);
    for (const f of ["nats-users.conf", "nats-permissions.conf"]) await copyFile(join(REPO_ROOT, "infra", f), join(dir, f));
    const port = await freePort();
    const conf = [`listen: "127.0.0.1:${port}"`, `jetstream { store_dir: ${JSON.stringify(join(dir, "js"))} }`];
    await writeFile(join(dir, "nats.conf"), [...conf, "max_payload: 1MB", "include ./nats-users.conf", ""].join("\n"));
    const server: ChildProcess = await startNatsServerWithConfig(natsServerBin(), join(dir, "nats.conf"), natsEnv());
    const servers = `nats://127.0.0.1:${port}`;
    try {
      for (const service of SERVICE_NAMES) {
        const secret = rendered.objects.find(
          (o) => o.kind === "Secret" && new RegExp(`^mllead-nats-${service}-`).test(o.metadata?.name ?? ""),
        ) as unknown as ISecret | undefined;
        const seedFile = join(dir, `${service}.seed`);
        await writeFile(seedFile, Buffer.from(secret?.data?.seed ?? "", "base64"), { mode: 0o600 });
        const nc = await connect({
          servers,
          authenticator: await credsFileAuthenticator(seedFile),
          inboxPrefix: `_INBOX_${service}`,
        });
        // Every service may ask JetStream for its account info (and get the answer on its own inbox).
        const info = await nc.request("$JS.API.INFO", undefined, { timeout: 10_000 });
        expect(info.json<{ type: string }>().type, service).toBe("io.nats.jetstream.api.v1.account_info_response");
        await nc.close();
      }
      await expect(connect({ servers, reconnect: false })).rejects.toThrow(/authorization/i);
    } finally {
      const exited = new Promise((r) => server.once("exit", r));
      server.kill("SIGTERM");
      await exited;
    }
  });
});
