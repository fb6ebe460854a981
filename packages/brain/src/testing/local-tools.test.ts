import { describe, expect, it } from "vitest";
import { createLocalTools } from "./local-tools.js";

describe("createLocalTools", { timeout: 30_000 }, () => {
  it("keeps paths inside the workspace and round-trips artifacts", async () => {
    await using tools = await createLocalTools({ taskId: "tX" });
    await tools.writeFile("a/b.txt", "hello");
    expect(await tools.listFiles()).toEqual(["a/b.txt"]);
    await expect(tools.writeFile("../escape.txt", "x")).rejects.toThrow(/leaves the working directory/);
    const art = await tools.saveArtifact("a/b.txt");
    expect(art).toEqual({ name: "a/b.txt", objectName: "tX/a/b.txt", contentType: "text/plain", bytes: 5 });
    await tools.fetchArtifact(art, "copy/b.txt");
    expect(await tools.readFile("copy/b.txt")).toBe("hello");
  });

  it("runs commands and GPU jobs for real, parsing progress lines and metrics.json", async () => {
    await using tools = await createLocalTools();
    const r = await tools.run(["python3", "-c", "import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)"]);
    expect(r).toMatchObject({ exitCode: 3, stdout: "out\n", stderr: "err\n", timedOut: false });
    const script = [
      "import json, os",
      "print('::mllead-progress ' + json.dumps({'step': 1, 'total': 2, 'metrics': {'loss': 0.5}}))",
      "print('::mllead-progress not json')",
      "open(os.path.join(os.environ['MLLEAD_ARTIFACTS_DIR'], 'metrics.json'), 'w').write(json.dumps({'acc': 0.9, 'name': 'x'}))",
    ].join("\n");
    const { jobId, result } = await tools.runGpuJob({
      command: ["python3", "job.py"],
      files: [{ path: "job.py", content: script }],
    });
    expect(result.outcome).toBe("succeeded");
    expect(result.metrics).toEqual({ acc: 0.9 });
    expect(result.artifacts.map((a) => a.objectName)).toEqual([`t-local/jobs/${jobId}/metrics.json`]);
    expect(tools.jobs[0]?.progress).toEqual([{ step: 1, total: 2, metrics: { loss: 0.5 } }]);
    const slow = await tools.runGpuJob({ command: ["python3", "-c", "import time; time.sleep(30)"], timeoutSec: 1 });
    expect(slow.result.outcome).toBe("timed_out");
  });
});
