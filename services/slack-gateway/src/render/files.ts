import type { Artifact, BrainKind } from "@mllead/contracts";
import type { ArtifactLinker } from "../artifact-links.js";
import { esc, OFFLINE_NOTE, truncate } from "./blocks.js";

/** Which artifacts are shared in the thread, and up to what size (bytes); anything else is linked. */
export const UPLOAD_LIMITS = {
  /** PNG, JPEG and GIF plots. */
  imageBytes: 8 * 1024 * 1024,
  /** Markdown, text and PDF reports. */
  reportBytes: 1024 * 1024,
  /** Files in one message. */
  perMessage: 10,
} as const;

const IMAGE = /\.(png|jpe?g|gif)$/i;
// Logs are not reports: a job's log is kept (and its tail shown when the job fails), not shared.
const REPORT = /\.(md|markdown|txt|pdf)$/i;

/** What kind of file an artifact is for sharing: a plot, a report, or something to link. */
export function artifactKind(a: Pick<Artifact, "name" | "contentType">): "image" | "report" | "other" {
  if (/^image\/(png|jpeg|gif)$/.test(a.contentType) || IMAGE.test(a.name)) return "image";
  if (/\.log$/i.test(a.name)) return "other";
  if (/^(text\/(markdown|plain)|application\/pdf)$/.test(a.contentType) || REPORT.test(a.name)) return "report";
  return "other";
}

/** Whether an artifact is small enough, and of a kind, to upload into the thread. */
export function isUploadable(a: Artifact): boolean {
  const kind = artifactKind(a);
  if (kind === "image") return a.bytes > 0 && a.bytes <= UPLOAD_LIMITS.imageBytes;
  if (kind === "report") return a.bytes > 0 && a.bytes <= UPLOAD_LIMITS.reportBytes;
  return false;
}

/** `2.1 MB`, `12 KB`, `512 B`. */
export function humanBytes(n: number): string {
  if (n >= 1024 * 1024) return `${(n / (1024 * 1024)).toFixed(1)} MB`;
  if (n >= 1024) return `${Math.round(n / 1024)} KB`;
  return `${n} B`;
}

/** The file's base name (artifacts are named by their path in the workspace, e.g. `reports/loss.png`). */
export function baseName(name: string): string {
  return name.split("/").pop() || name;
}

/** Where an artifact came from, as people read it: a step or a GPU job. */
export interface FileSource {
  /** `Analyze the run` (a step's title) or `GPU job j123`. */
  label: string;
  /** `analyst`, or the step a job belongs to. */
  by: string;
}

/** One file to share: where to read it, and how Slack shows it. */
export interface FileShare {
  objectName: string;
  filename: string;
  title: string;
  altText?: string;
  bytes: number;
}

/** The files of one step or job to share in one message, with their titles and alt text. */
export function fileShares(artifacts: readonly Artifact[], source: FileSource): FileShare[] {
  return artifacts
    .filter(isUploadable)
    .slice(0, UPLOAD_LIMITS.perMessage)
    .map((a) => {
      const filename = baseName(a.name);
      return {
        objectName: a.objectName,
        filename,
        // Titles are plain text in Slack's file viewer; the source makes each title unique in the thread.
        title: truncate(`${filename} — ${source.label}`, 200),
        ...(artifactKind(a) === "image"
          ? { altText: truncate(`Plot ${filename} produced by ${source.by} for “${source.label}”`, 1000) }
          : {}),
        bytes: a.bytes,
      };
    });
}

/** The comment that introduces the shared files. */
export function fileComment(shares: readonly FileShare[], source: FileSource, brain: BrainKind | undefined): string {
  const names = shares.map((s) => `\`${esc(s.filename)}\``).join(", ");
  const offline = brain === "offline" ? `\n${OFFLINE_NOTE}` : "";
  return `:bar_chart: ${names} from *${esc(source.label)}* (\`${esc(source.by)}\`)${offline}`;
}

/** A file as the thread names it: a signed download link when links are on, else its name in code. */
function fileRef(label: string, objectName: string, links: ArtifactLinker | null | undefined): string {
  // `|` and `>` would end Slack's link syntax early; the label is only what people read.
  return links ? `<${links.url(objectName)}|${esc(label).replace(/\|/g, "¦")}>` : `\`${esc(label)}\``;
}

/** Where the files not shared in the thread are: download links and how long they work, or the store and a hint. */
function keptWhere(links: ArtifactLinker | null | undefined): string {
  return links
    ? ` — download links, valid ${links.ttlHours} h`
    : " — kept in the Object Store `mllead_artifacts` (links need MLLEAD_PUBLIC_URL)";
}

/**
 * The artifacts line of a step or job message: shared files named as such, the others (too large,
 * or data and models) with their size — as signed download links when `links` is given, else where they are kept.
 */
export function artifactsLine(artifacts: readonly Artifact[], links?: ArtifactLinker | null): string {
  if (artifacts.length === 0) return "";
  const shared = artifacts.filter(isUploadable).slice(0, UPLOAD_LIMITS.perMessage);
  const kept = artifacts.filter((a) => !shared.includes(a));
  const parts: string[] = [];
  if (shared.length) parts.push(`${shared.map((a) => `\`${esc(baseName(a.name))}\``).join(", ")} (shared below)`);
  if (kept.length) {
    const list = kept
      .slice(0, 10)
      .map((a) => `${fileRef(a.name, a.objectName, links)} ${humanBytes(a.bytes)}`)
      .join(", ");
    const more = kept.length > 10 ? ` and ${kept.length - 10} more` : "";
    parts.push(`${list}${more}${keptWhere(links)}`);
  }
  return `*Artifacts:* ${parts.join(" · ")}`;
}

/** Said in the thread when Slack would not take the upload: the files are named (or linked), not lost. */
export function uploadRefusedText(
  shares: readonly FileShare[],
  source: FileSource,
  why: string,
  links?: ArtifactLinker | null,
): string {
  const head = `:paperclip: Files from *${esc(source.label)}* could not be uploaded to Slack (${esc(why)})`;
  if (links) {
    const list = shares.map((s) => `• ${fileRef(s.filename, s.objectName, links)} ${humanBytes(s.bytes)}`).join("\n");
    return `${head}; download links, valid ${links.ttlHours} h:\n${list}`;
  }
  const list = shares.map((s) => `• \`${esc(s.filename)}\` ${humanBytes(s.bytes)} — \`${esc(s.objectName)}\``).join("\n");
  return `${head}; they are kept in the Object Store \`mllead_artifacts\`:\n${list}`;
}
