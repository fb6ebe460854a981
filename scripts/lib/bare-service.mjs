// The yardstick of `pnpm bench memory`: the least a service of ours could be — Fastify with a /healthz route,
// a pino logger, a zod-parsed config and one NATS connection with a subscription — and nothing of @mllead.
// Plain JavaScript run by plain node, so its idle RSS is the floor that the services are compared with.
// The libraries are the very copies the services load (resolved from packages/service-kit and packages/bus),
// through the entry point an ES module import gets.
//
//   NATS_URL=nats://127.0.0.1:4222 node scripts/lib/bare-service.mjs
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "../..");

/** The entry of `pkg` that `import` loads, as seen from the workspace package `from` (e.g. packages/bus). */
function entryOf(pkg, from) {
  const cjs = createRequire(join(ROOT, from, "package.json")).resolve(pkg);
  let dir = dirname(cjs);
  while (!isPackageDir(dir, pkg)) {
    if (dirname(dir) === dir) throw new Error(`no package.json of ${pkg} above ${cjs}`);
    dir = dirname(dir);
  }
  const meta = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
  const esm = pick(meta.exports?.["."] ?? meta.exports);
  return pathToFileURL(esm ? join(dir, esm) : cjs).href;
}

function isPackageDir(dir, pkg) {
  const file = join(dir, "package.json");
  return existsSync(file) && JSON.parse(readFileSync(file, "utf8")).name === pkg;
}

/** The target of an `exports` entry under the conditions a Node ES module import matches. */
function pick(target) {
  if (typeof target === "string") return target;
  if (!target || typeof target !== "object") return undefined;
  for (const [condition, value] of Object.entries(target)) {
    if (["node", "import", "default"].includes(condition)) {
      const found = pick(value);
      if (found) return found;
    }
  }
  return undefined;
}

const [{ default: Fastify }, { default: pino }, { z }, { connect }] = await Promise.all([
  import(entryOf("fastify", "packages/service-kit")),
  import(entryOf("pino", "packages/service-kit")),
  import(entryOf("zod", "packages/service-kit")),
  import(entryOf("@nats-io/transport-node", "packages/bus")),
]);

const config = z
  .object({
    NATS_URL: z.string().min(1),
    PORT: z.coerce.number().int().min(0).default(0),
    LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace"]).default("info"),
  })
  .parse(process.env);
const log = pino({ name: "bare", level: config.LOG_LEVEL });
const nc = await connect({ servers: config.NATS_URL, name: "bare-service" });
const sub = nc.subscribe("bare.>");
void (async () => {
  for await (const m of sub) m.respond(m.data);
})();
const app = Fastify({ loggerInstance: log });
app.get("/healthz", async () => ({ ok: true }));
const address = await app.listen({ port: config.PORT, host: "127.0.0.1" });
log.info({ address }, "bare ready");
process.send?.({ type: "ready", service: "bare", address });

const stop = async () => {
  await app.close();
  await nc.drain();
  process.exit(0);
};
process.once("SIGTERM", () => void stop());
process.once("SIGINT", () => void stop());
