import { describe, expect, it } from "vitest";
import { artifactLinker, checkArtifactLink, objectNameFromPath, signArtifact } from "./artifact-links.js";
import { artifactsLine, uploadRefusedText } from "./render/files.js";

const SECRET = "s".repeat(40);
const NAME = "tasks/t1/s1/models/model v2.pt";

describe("artifact links", () => {
  it("signs name and expiry together: changing either, or the signature, is refused; time is checked after", () => {
    const sig = signArtifact(SECRET, NAME, 2000);
    expect(checkArtifactLink(SECRET, NAME, "2000", sig, 1999)).toEqual({ ok: true });
    expect(checkArtifactLink(SECRET, NAME, "2000", sig, 2001)).toEqual({ ok: false, why: "expired" });
    expect(checkArtifactLink(SECRET, `${NAME}x`, "2000", sig, 1000)).toEqual({ ok: false, why: "bad_signature" });
    expect(checkArtifactLink(SECRET, NAME, "2001", sig, 1000)).toEqual({ ok: false, why: "bad_signature" });
    expect(checkArtifactLink("t".repeat(40), NAME, "2000", sig, 1000)).toEqual({ ok: false, why: "bad_signature" });
    const flipped = `${sig.slice(0, -1)}${sig.endsWith("0") ? "1" : "0"}`;
    expect(checkArtifactLink(SECRET, NAME, "2000", flipped, 1000)).toEqual({ ok: false, why: "bad_signature" });
    // Not hex, wrong length, upper case, an exp that is not digits: refused before any comparison.
    for (const [exp, s] of [
      ["2000", sig.toUpperCase()],
      ["2000", sig.slice(2)],
      ["2000", ""],
      ["2e3", sig],
      ["", sig],
    ] as const)
      expect(checkArtifactLink(SECRET, NAME, exp, s, 1000)).toEqual({ ok: false, why: "bad_signature" });
    // "<exp>.<name>" cannot be re-split: exp 20 and name "00.x" is not exp 2000 and name "x".
    expect(signArtifact(SECRET, "00.x", 20)).not.toBe(signArtifact(SECRET, "x", 2000));
  });

  it("reads object names from paths and refuses empty, dot and encoded-slash segments and control characters", () => {
    expect(objectNameFromPath("/artifacts/tasks/t1/s1/models/model%20v2.pt")).toBe(NAME);
    expect(objectNameFromPath("/artifacts/tasks/t%C3%A9/a.png")).toBe("tasks/té/a.png");
    for (const bad of [
      "/artifacts/",
      "/artifacts/tasks//a",
      "/artifacts/tasks/../a",
      "/artifacts/tasks/./a",
      "/artifacts/tasks/%2E%2E/a",
      "/artifacts/tasks%2F..%2Fa",
      "/artifacts/tasks/%00a",
      "/artifacts/tasks/%E0%A4%A",
      "/other/tasks/a",
    ])
      expect(objectNameFromPath(bad), bad).toBeNull();
  });

  it("makes links under MLLEAD_PUBLIC_URL that the route's check accepts until the TTL has passed", () => {
    const now = 1_700_000_000_000;
    const links = artifactLinker({ publicUrl: "https://mllead.example.com/", secret: SECRET, ttlHours: 2 }, () => now);
    if (!links) throw new Error("links are off");
    const url = new URL(links.url(NAME));
    expect(url.origin).toBe("https://mllead.example.com");
    expect(url.pathname).toBe("/artifacts/tasks/t1/s1/models/model%20v2.pt");
    const name = objectNameFromPath(url.pathname);
    const exp = url.searchParams.get("exp") ?? "";
    const sig = url.searchParams.get("sig") ?? "";
    expect(Number(exp)).toBe(now / 1000 + 7200);
    expect(checkArtifactLink(SECRET, name ?? "", exp, sig, now / 1000 + 7200)).toEqual({ ok: true });
    expect(checkArtifactLink(SECRET, name ?? "", exp, sig, now / 1000 + 7201)).toEqual({ ok: false, why: "expired" });
    expect(artifactLinker({ secret: SECRET, ttlHours: 24 })).toBeNull();
  });

  it("shows links instead of bare names in the thread when links are on", () => {
    const links = artifactLinker({ publicUrl: "http://gw.test", secret: SECRET, ttlHours: 24 });
    const artifacts = [
      { name: "reports/loss.png", objectName: "tasks/t1/s1/reports/loss.png", contentType: "image/png", bytes: 2000 },
      { name: "models/a|b>.pt", objectName: "tasks/t1/s1/models/a|b>.pt", contentType: "application/octet-stream", bytes: 3e6 },
    ];
    const line = artifactsLine(artifacts, links);
    expect(line).toMatch(
      /^\*Artifacts:\* `loss\.png` \(shared below\) · <http:\/\/gw\.test\/artifacts\/tasks\/t1\/s1\/models\/a%7Cb%3E\.pt\?exp=\d+&sig=[0-9a-f]{64}\|models\/a¦b&gt;\.pt> 2\.9 MB — download links, valid 24 h$/,
    );
    const refused = uploadRefusedText(
      [{ objectName: "tasks/t1/s1/reports/loss.png", filename: "loss.png", title: "loss.png", bytes: 2000 }],
      { label: "Analyze", by: "analyst" },
      "file_uploads_disabled",
      links,
    );
    expect(refused).toMatch(
      /download links, valid 24 h:\n• <http:\/\/gw\.test\/artifacts\/tasks\/t1\/s1\/reports\/loss\.png\?exp=/,
    );
    expect(artifactsLine(artifacts)).toContain("`models/a|b&gt;.pt` 2.9 MB — kept in the Object Store");
  });
});
