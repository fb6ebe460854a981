"""A GPU probe job for mllead's gpu-runner: needs no torch.

Reports the devices the runner gave this job (CUDA_VISIBLE_DEVICES), checks that
nvidia-smi sees them, speaks the progress protocol, and leaves metrics.json and a
report as artifacts. Exits 1 when it was given GPUs that nvidia-smi cannot see.
"""

import json
import os
import shutil
import subprocess
import sys


def progress(step: int, total: int, message: str) -> None:
    print("::mllead-progress " + json.dumps({"step": step, "total": total, "message": message}), flush=True)


def main() -> int:
    visible = [d for d in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if d]
    out_dir = os.environ.get("MLLEAD_ARTIFACTS_DIR", ".")
    print(f"job {os.environ.get('MLLEAD_JOB_ID')} on CUDA_VISIBLE_DEVICES={','.join(visible) or '(none: CPU)'}")
    progress(1, 3, "asking nvidia-smi")

    seen: dict[str, str] = {}
    smi = shutil.which("nvidia-smi")
    report = "nvidia-smi not found\n"
    if smi:
        proc = subprocess.run(
            [smi, "--query-gpu=uuid,name,memory.total", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=30, check=False,
        )
        report = proc.stdout + proc.stderr
        for line in proc.stdout.splitlines():
            fields = [f.strip() for f in line.split(",")]
            uuid = next((f for f in fields if f.startswith("GPU-")), None)
            if uuid:
                seen[uuid] = line.strip()
    progress(2, 3, "checking the visible devices")

    missing = [d for d in visible if d.startswith("GPU-") and d not in seen]
    for d in visible:
        print(f"visible device {d}: {seen.get(d, 'NOT SEEN by nvidia-smi')}")
    torch_devices = -1.0
    try:
        import torch  # type: ignore[import-not-found]  # optional: only reported when present

        torch_devices = float(torch.cuda.device_count())
        print(f"torch sees {int(torch_devices)} CUDA device(s)")
    except ImportError:
        print("torch is not installed (fine: the probe does not need it)")

    with open(os.path.join(out_dir, "metrics.json"), "w") as f:
        json.dump({"visible_devices": len(visible), "host_gpus": len(seen), "missing_devices": len(missing), "torch_devices": torch_devices}, f)
    with open(os.path.join(out_dir, "nvidia-smi.txt"), "w") as f:
        f.write(report)
    progress(3, 3, "done")
    if missing:
        print(f"ERROR: given {missing} but nvidia-smi does not list them", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
