"""How long each notebook of the learning path takes to run top to bottom (on demand, not in the suite).

    python tests/benchmarks/notebook_times.py                 # every notebook in demos/notebooks/
    python tests/benchmarks/notebook_times.py 03 07           # those whose name starts with 03 or 07

Each notebook runs in a fresh kernel of this interpreter (nbclient, as tests/test_notebooks.py
does), with this checkout on PYTHONPATH and OPENBLAS_NUM_THREADS=1; the target is under 60 s
each on a 2-core CPU. Prints one line per notebook and the total.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from demos.notebooks import notebooks  # noqa: E402


def main(argv: list[str]) -> int:
    import nbclient
    import nbformat
    from ipykernel.kernelspec import write_kernel_spec
    from jupyter_client import KernelManager
    from jupyter_client.kernelspec import KernelSpecManager

    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    chosen = [p for p in notebooks() if not argv or any(p.name.startswith(a) for a in argv)]
    if not chosen:
        print(f"no notebook in {REPO / 'demos' / 'notebooks'} starts with {' or '.join(argv)}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as folder:
        write_kernel_spec(Path(folder) / "kernels" / "minigrad-bench")
        specs = KernelSpecManager(kernel_dirs=[str(Path(folder) / "kernels")])
        total = 0.0
        for path in chosen:
            notebook = nbformat.read(path, as_version=4)
            km = KernelManager(kernel_name="minigrad-bench", kernel_spec_manager=specs)
            start = time.perf_counter()
            nbclient.NotebookClient(
                notebook, km=km, timeout=600, resources={"metadata": {"path": str(path.parent)}}
            ).execute()
            seconds = time.perf_counter() - start
            total += seconds
            print(f"{path.name:40s} {seconds:6.1f} s{'   (over 60 s)' if seconds > 60 else ''}", flush=True)
    print(f"{'total':40s} {total:6.1f} s  (load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
