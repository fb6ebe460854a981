/**
 * Submits `jobs/gpu_probe.py` as one GPU job and prints its `job.finished` event.
 * Used by `scripts/gpu-check.sh`; exits 0 only when the job succeeded.
 * Usage: node --import tsx scripts/gpu-check-submit.ts [gpus] [timeoutSec]
 */
import { readFile } from "node:fs/promises";
import { Bus } from "@mllead/bus";
import { CONSUMERS, everyResource, GpuJob, SUBJECTS, stableId, type TaskEvent } from "@mllead/contracts";
import { createLogger } from "@mllead/service-kit";

const gpus = Number(process.argv[2] ?? "1");
const timeoutSec = Number(process.argv[3] ?? "300");
const url = process.env.NATS_URL ?? "nats://127.0.0.1:4222";
const log = createLogger("gpu-check", "warn");
const bus = await Bus.connect({ url, name: "gpu-check", log });
await bus.setUp(everyResource([CONSUMERS.gpuRunner]));

const nonce = `${Date.now()}`;
const job = GpuJob.parse({
  v: 1,
  jobId: stableId("j", "gpu-check", nonce),
  taskId: stableId("t", "gpu-check", nonce),
  stepId: "probe",
  attempt: 1,
  command: ["python3", "gpu_probe.py"],
  files: [{ path: "gpu_probe.py", content: await readFile(new URL("../jobs/gpu_probe.py", import.meta.url), "utf8") }],
  gpus,
  timeoutSec: Math.min(timeoutSec, 600),
  submittedAt: new Date().toISOString(),
});

let resolveFinished: (e: TaskEvent) => void = () => {};
const finished = new Promise<TaskEvent>((resolve) => {
  resolveFinished = resolve;
});
await bus.subscribe(SUBJECTS.taskEvents(job.taskId), (msg) => {
  const e = JSON.parse(new TextDecoder().decode(msg.data)) as TaskEvent;
  process.stderr.write(`event: ${e.type}${e.type === "job.started" ? ` devices=${e.devices.join(",") || "(cpu)"}` : ""}\n`);
  if (e.type === "job.finished") resolveFinished(e);
});
await bus.publish(SUBJECTS.gpuJob, GpuJob, job, job.jobId);
process.stderr.write(`submitted job ${job.jobId} (gpus: ${gpus}); waiting up to ${timeoutSec}s\n`);
const timer = setTimeout(() => {
  process.stderr.write("no job.finished in time: is the runner up? see its log\n");
  process.exit(2);
}, timeoutSec * 1000);
const event = await finished;
clearTimeout(timer);
process.stdout.write(`${JSON.stringify(event, null, 2)}\n`);
await bus.close();
process.exit(event.type === "job.finished" && event.result.outcome === "succeeded" ? 0 : 1);
