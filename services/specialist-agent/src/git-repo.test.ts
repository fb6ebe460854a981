import { describe, expect, it } from "vitest";
import { cloneDirFor, defaultStateDir, defaultWorkspaceDir, isCloneUrl } from "./git-repo.js";

describe("defaultStateDir", () => {
  it("uses $XDG_STATE_HOME/mllead, else ~/.local/state/mllead", () => {
    expect(defaultStateDir({ XDG_STATE_HOME: "/var/state", HOME: "/home/a" })).toBe("/var/state/mllead");
    expect(defaultStateDir({ HOME: "/home/a" })).toBe("/home/a/.local/state/mllead");
    // The XDG spec: a relative value is invalid and ignored.
    expect(defaultStateDir({ XDG_STATE_HOME: "state", HOME: "/home/a" })).toBe("/home/a/.local/state/mllead");
    expect(defaultWorkspaceDir("/home/a/.local/state/mllead")).toBe("/home/a/.local/state/mllead/workspaces");
  });
});

describe("isCloneUrl", () => {
  it("treats URLs and scp-like addresses as clones and everything else as a local path", () => {
    for (const url of [
      "https://github.com/acme/ml.git",
      "ssh://git@host/x",
      "file:///srv/ml.git",
      "git@github.com:acme/ml.git",
    ]) {
      expect(isCloneUrl(url), url).toBe(true);
    }
    for (const path of ["/srv/ml", "./ml", "../team/repo", "ml", "./odd:name"]) {
      expect(isCloneUrl(path), path).toBe(false);
    }
  });
});

describe("cloneDirFor", () => {
  it("names the clone after the repository, with a hash that tells different URLs apart", () => {
    const a = cloneDirFor("/s", "https://github.com/acme/churn-model.git");
    expect(a).toMatch(/^\/s\/repos\/churn-model-[0-9a-f]{10}$/);
    expect(cloneDirFor("/s", "https://gitlab.com/acme/churn-model.git")).not.toBe(a);
    expect(cloneDirFor("/s", "git@host:team/x y.git/")).toMatch(/^\/s\/repos\/x-y-[0-9a-f]{10}$/);
    expect(cloneDirFor("/s", "file:///")).toMatch(/^\/s\/repos\/repo-[0-9a-f]{10}$/);
  });
});
