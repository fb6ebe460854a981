import { join } from "node:path";
import { REPO_ROOT } from "@mllead/tools/services";
import ts from "typescript";

/** A Kubernetes object as `kubectl kustomize` renders it. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata?: { name?: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

/** `Deployment/tech-lead`: how a problem names its object. */
export const objectName = (o: K8sObject) => `${o.kind}/${o.metadata?.name ?? "(no name)"}`;

interface Model {
  validate(): void;
}

/**
 * The models of `kubernetes-models` (generated from the Kubernetes OpenAPI definitions) for an apiVersion:
 * `apps/v1` → `kubernetes-models/apps/v1`, the core `v1` → `kubernetes-models/v1`. Undefined when the package
 * has no such group/version (the object then has no schema, which is a problem, never a pass).
 */
async function modelsFor(apiVersion: string): Promise<Record<string, unknown> | undefined> {
  try {
    const specifier = `kubernetes-models/${apiVersion}`;
    return (await import(/* @vite-ignore */ specifier)) as Record<string, unknown>;
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === "ERR_PACKAGE_PATH_NOT_EXPORTED" || code === "ERR_MODULE_NOT_FOUND") return undefined;
    throw err;
  }
}

/** A field set to null is a field not set, for the API server (`kubectl create --dry-run -o yaml` writes `creationTimestamp: null`). */
function withoutNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutNulls);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([, v]) => v !== null)
      .map(([k, v]) => [k, withoutNulls(v)]),
  );
}

/**
 * The object as the API server decodes it: nulls dropped, and a Secret's `data` (a ConfigMap's `binaryData`) in one
 * line — kustomize writes long base64 values over several lines, which Go's base64 decoder takes (it skips line
 * breaks) but the schema's `byte` format does not.
 */
function asTheApiServerReadsIt(object: K8sObject): K8sObject {
  const o = withoutNulls(object) as K8sObject;
  const field = o.kind === "Secret" ? "data" : o.kind === "ConfigMap" ? "binaryData" : undefined;
  const data = field ? (o[field] as Record<string, unknown> | undefined) : undefined;
  if (!field || !data) return o;
  const joined = Object.entries(data).map(([k, v]) => [k, typeof v === "string" ? v.replace(/[\r\n]/g, "") : v]);
  return { ...o, [field]: Object.fromEntries(joined) };
}

/**
 * Validates against the object's JSON schema (types, required fields, enums, formats such as int-or-string and
 * quantities). These schemas allow fields they do not name, as the API server does; `unknownFields` catches those.
 */
async function schemaProblems(o: K8sObject): Promise<string[]> {
  const Ctor = (await modelsFor(o.apiVersion))?.[o.kind] as (new (data: K8sObject) => Model) | undefined;
  if (typeof Ctor !== "function") return [`${objectName(o)}: no schema for ${o.apiVersion} ${o.kind}`];
  try {
    new Ctor(o).validate();
    return [];
  } catch (err) {
    return [`${objectName(o)}: ${(err as Error).message}`];
  }
}

/** Where the generated declarations "live", so that `kubernetes-models` resolves from the repository's node_modules. */
const VIRTUAL_FILE = join(REPO_ROOT, "tests", "helpers", "__k8s-objects__.ts");

/**
 * Fields the Kubernetes API does not define, as `kubectl apply --validate=strict` and kubeconform `-strict` refuse
 * them: each object is type-checked as an object literal of the interface `kubernetes-models` generates for its
 * kind (`IDeployment`, …), so TypeScript's excess-property check names the first unknown field of each object
 * (and any wrong type or missing required field). One program for all objects: about a second.
 */
function unknownFieldProblems(objects: readonly K8sObject[]): string[] {
  const types = new Map<string, string>();
  const imports: string[] = [];
  const decls = objects.map((o, i) => {
    const key = `${o.apiVersion}/${o.kind}`;
    let alias = types.get(key);
    if (!alias) {
      alias = `T${types.size}`;
      types.set(key, alias);
      imports.push(`import type { I${o.kind} as ${alias} } from "kubernetes-models/${key}";`);
    }
    return `export const o${i}: ${alias} = ${JSON.stringify(o, null, 1)};`;
  });
  const header = `${imports.join("\n")}\n`;
  const starts: number[] = [];
  let text = header;
  for (const d of decls) {
    starts.push(text.length);
    text += `${d}\n`;
  }
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    lib: ["lib.es2022.d.ts"],
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (file, lang, ...rest) =>
    file === VIRTUAL_FILE ? ts.createSourceFile(file, text, lang, true) : getSourceFile(file, lang, ...rest);
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (file) => file === VIRTUAL_FILE || fileExists(file);
  const program = ts.createProgram([VIRTUAL_FILE], options, host);
  const source = program.getSourceFile(VIRTUAL_FILE);
  if (!source) throw new Error("the generated declarations did not load");
  const diagnostics = [...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)];
  return diagnostics.map((d) => {
    const message = ts.flattenDiagnosticMessageText(d.messageText, " ");
    const at = d.start ?? 0;
    if (at < header.length) return `no type for an object kind: ${message}`;
    const index = starts.findLastIndex((s) => s <= at);
    const o = objects[index];
    return `${o ? objectName(o) : "?"}: ${message}`;
  });
}

/**
 * Every problem of `objects` against the Kubernetes API schemas (the OpenAPI definitions of a current Kubernetes,
 * as `kubernetes-models` 5 carries them): empty when all are valid. Offline: no cluster, no download.
 */
export async function validateObjects(given: readonly K8sObject[]): Promise<string[]> {
  const objects = given.map(asTheApiServerReadsIt);
  const problems: string[] = [];
  for (const o of objects) problems.push(...(await schemaProblems(o)));
  // Only objects with a schema reach the type check: an unknown kind is reported once, above.
  const known = [];
  for (const o of objects) if ((await modelsFor(o.apiVersion))?.[o.kind]) known.push(o);
  problems.push(...unknownFieldProblems(known));
  return problems;
}
