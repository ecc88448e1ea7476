"""Load every input of the bad-input corpus in this process (run as a child: ``python -m tests.fuzz.run_corpus
MANIFEST``, the JSON list ``corpus.build`` returned) and print one JSON object: each input's outcome, message
and seconds, and this process's peak memory, and what it was after the imports (the corpus was built by the
caller, so the difference is what the loads took)."""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path


def load(loader: str, path: Path, cache: Path):
    from babysit.data.cifar10 import read_batch
    from babysit.data.sources import load_source
    from babysit.store import RunStore
    from babysit.train import load_checkpoint

    if loader == "cifar_batch":
        return read_batch(path, 10)
    if loader == "source_folder":
        return load_source(f"folder:{path}", cache_dir=cache)
    if loader == "source_npz":
        return load_source(f"npz:{path}")
    if loader == "checkpoint":
        return load_checkpoint(path)
    if loader == "store_read":
        with RunStore(path, readonly=True) as store:
            return store.runs()
    if loader == "store_write":
        with RunStore(path) as store:
            store.start_run(None, None, None, {"lr": 0.1})
            return store.runs()
    raise ValueError(loader)


def main(manifest: str) -> None:
    from babysit.errors import BabysitError

    import babysit.data.cifar10, babysit.data.sources, babysit.store, babysit.train  # noqa: E401,F401 - imports first

    # what the imports alone take (NumPy's BLAS buffers, Pillow, ...): the loads are measured above it
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    items = json.loads(Path(manifest).read_text())
    cache = Path(manifest).parent / "cache"
    results = []
    for kind, name, loader, path in items:
        start = time.monotonic()
        try:
            load(loader, Path(path), cache)
            outcome, message = "loaded", ""
        except BabysitError as exc:
            outcome, message = "BabysitError", str(exc)
        except BaseException as exc:  # noqa: BLE001 - what the test reports as a defect
            outcome, message = type(exc).__name__, str(exc)[:500]
        results.append({"kind": kind, "name": name, "loader": loader, "path": str(path), "outcome": outcome,
                        "message": message, "seconds": time.monotonic() - start,
                        "peak_rss_mib_after": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"results": results, "peak_rss_mib": peak_kib / 1024, "baseline_rss_mib": baseline}))


if __name__ == "__main__":
    main(sys.argv[1])
