import { type Bus, contentTypeFor } from "@mllead/bus";
import { OBJECT_STORE } from "@mllead/contracts";
import { create as contentDisposition } from "content-disposition";
import type { FastifyInstance, FastifyReply } from "fastify";
import type { Logger } from "pino";
import { Counter, type Registry } from "prom-client";
import { ARTIFACTS_PATH, checkArtifactLink, objectNameFromPath } from "./artifact-links.js";
import { baseName } from "./render/files.js";

/** What the artifact route is built from. */
export interface ArtifactRouteDeps {
  http: FastifyInstance;
  bus: Pick<Bus, "readObject">;
  /** MLLEAD_ARTIFACT_LINK_SECRET: the key the links are signed with. */
  secret: string;
  log: Logger;
  /** Where `mllead_artifact_downloads_total{outcome}` is counted (nowhere when omitted). */
  registry?: Registry;
  /** Now, in ms (tests move it). */
  now?: () => number;
}

type Outcome = "served" | "bad_signature" | "expired" | "not_found" | "failed";

// Browsers show these in place; anything else (HTML, SVG, scripts, data) is a download, never a page of ours.
const INLINE = new Set(["image/png", "image/jpeg", "image/gif"]);

/**
 * `GET /artifacts/<name>?exp=<unix s>&sig=<hex>`: streams the object `<name>` of `mllead_artifacts` when the link
 * is signed with the secret and not expired — 403 for a bad signature, 410 once expired, 404 for an unknown
 * object. The body goes out chunk by chunk as the client reads it (never whole in memory), with its content type,
 * size and a Content-Disposition filename. Answers are short plain text: never a stack trace, never the link.
 */
export function registerArtifactRoute(deps: ArtifactRouteDeps): void {
  const { http, bus, secret } = deps;
  const log = deps.log.child({ component: "artifact-links" });
  const now = deps.now ?? Date.now;
  const downloads = new Counter({
    name: "mllead_artifact_downloads_total",
    help: "Requests for artifacts through signed links, by outcome (served, bad_signature, expired, not_found, failed)",
    labelNames: ["outcome"] as const,
    registers: deps.registry ? [deps.registry] : [],
  });
  const answer = (reply: FastifyReply, outcome: Outcome, status: number, text: string) => {
    downloads.inc({ outcome });
    return reply.code(status).header("cache-control", "no-store").type("text/plain; charset=utf-8").send(`${text}\n`);
  };

  http.get(`${ARTIFACTS_PATH}*`, { exposeHeadRoute: false }, async (req, reply) => {
    const raw = req.raw.url ?? "";
    const q = raw.indexOf("?");
    const query = new URLSearchParams(q < 0 ? "" : raw.slice(q + 1));
    const name = objectNameFromPath(q < 0 ? raw : raw.slice(0, q));
    if (!name) return answer(reply, "not_found", 404, "No such artifact.");
    const check = checkArtifactLink(secret, name, query.get("exp") ?? "", query.get("sig") ?? "", Math.floor(now() / 1000));
    if (!check.ok) {
      return check.why === "expired"
        ? answer(reply, "expired", 410, "This link has expired. Ask in the task's thread for a new one.")
        : answer(reply, "bad_signature", 403, "This link is not valid.");
    }
    let obj: Awaited<ReturnType<typeof bus.readObject>>;
    try {
      obj = await bus.readObject(OBJECT_STORE, name);
    } catch (err) {
      log.error({ err, objectName: name }, "an artifact could not be read from the Object Store");
      return answer(reply, "failed", 502, "The artifact could not be read. Try again later.");
    }
    if (!obj) return answer(reply, "not_found", 404, "No such artifact.");
    const type = contentTypeFor(name);
    const filename = baseName(name);
    // Fastify destroys the response when the stream fails midway; the client sees a cut download, the log why.
    obj.stream.once("error", (err) => log.warn({ err, objectName: name }, "an artifact download stopped midway"));
    downloads.inc({ outcome: "served" });
    return reply
      .header("content-type", type)
      .header("content-length", String(obj.size))
      .header("content-disposition", contentDisposition(filename, { type: INLINE.has(type) ? "inline" : "attachment" }))
      .header("x-content-type-options", "nosniff")
      .header("content-security-policy", "default-src 'none'; sandbox")
      .header("cache-control", "private, no-store")
      .send(obj.stream);
  });
}
