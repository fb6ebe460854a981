import { createHmac, timingSafeEqual } from "node:crypto";

/** Makes the links the thread shows for artifacts too large (or of a kind) not to upload to Slack. */
export interface ArtifactLinker {
  /** A signed link to `objectName` (a name in `mllead_artifacts`) that stops working after the link TTL. */
  url(objectName: string): string;
  /** Hours a link works after it is made. */
  ttlHours: number;
}

/** Hours a link works when MLLEAD_ARTIFACT_LINK_TTL_HOURS is unset. */
export const DEFAULT_LINK_TTL_HOURS = 24;

/** The path prefix of the artifact route: `GET /artifacts/<name>?exp=<unix s>&sig=<hex>`. */
export const ARTIFACTS_PATH = "/artifacts/";

/** What a request's link says, once checked. */
export type LinkCheck = { ok: true } | { ok: false; why: "bad_signature" | "expired" };

/** HMAC-SHA256, hex, over `<exp>.<name>`: exp is digits, so the first dot ends it and no two pairs sign alike. */
export function signArtifact(secret: string, name: string, exp: number): string {
  return createHmac("sha256", secret).update(`${exp}.${name}`).digest("hex");
}

/**
 * Checks a link: the signature first (a tampered name, exp or sig is refused as `bad_signature`, compared in
 * constant time), then the time (`expired` once `nowSec` is past `exp`).
 */
export function checkArtifactLink(secret: string, name: string, exp: string, sig: string, nowSec: number): LinkCheck {
  if (!/^\d{1,12}$/.test(exp) || !/^[0-9a-f]{64}$/.test(sig)) return { ok: false, why: "bad_signature" };
  const expected = Buffer.from(signArtifact(secret, name, Number(exp)), "hex");
  if (!timingSafeEqual(expected, Buffer.from(sig, "hex"))) return { ok: false, why: "bad_signature" };
  return Number(exp) < nowSec ? { ok: false, why: "expired" } : { ok: true };
}

/** A name as a path: each segment percent-encoded, the slashes kept (`tasks/t1/s1/model%20v2.pt`). */
export function encodeObjectPath(name: string): string {
  return name.split("/").map(encodeURIComponent).join("/");
}

/**
 * The object name a request path names, or null when it is not one the route serves: empty, `.`/`..` or empty
 * segments, control characters, or percent-encoding that does not decode. Object names are not files, so
 * nothing here can reach outside the store; refusing these keeps one spelling per object.
 */
export function objectNameFromPath(rawPath: string): string | null {
  if (!rawPath.startsWith(ARTIFACTS_PATH)) return null;
  const segments: string[] = [];
  for (const raw of rawPath.slice(ARTIFACTS_PATH.length).split("/")) {
    let seg: string;
    try {
      seg = decodeURIComponent(raw);
    } catch (err) {
      // Percent-encoding that is not UTF-8 names no object; anything else is a bug to hear about.
      if (err instanceof URIError) return null;
      throw err;
    }
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused here.
    if (seg === "" || seg === "." || seg === ".." || seg.includes("/") || /[\u0000-\u001f\u007f]/.test(seg)) return null;
    segments.push(seg);
  }
  const name = segments.join("/");
  return name.length > 0 && name.length <= 1024 ? name : null;
}

/**
 * The linker of `publicUrl` (the gateway's address as people's browsers reach it), or null when links are off
 * (no public URL). Links expire `ttlHours` after they are made.
 */
export function artifactLinker(
  opts: { publicUrl?: string | undefined; secret?: string | undefined; ttlHours: number },
  now: () => number = Date.now,
): ArtifactLinker | null {
  const { publicUrl, secret } = opts;
  if (!publicUrl || !secret) return null;
  const base = publicUrl.replace(/\/+$/, "");
  return {
    ttlHours: opts.ttlHours,
    url: (objectName) => {
      const exp = Math.floor(now() / 1000) + Math.round(opts.ttlHours * 3600);
      const sig = signArtifact(secret, objectName, exp);
      return `${base}${ARTIFACTS_PATH}${encodeObjectPath(objectName)}?exp=${exp}&sig=${sig}`;
    },
  };
}
