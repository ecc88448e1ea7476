"""The bad-input corpus (tests/fuzz/corpus.py) loaded in a child process: every crafted input ends in a
BabysitError naming its file (the few benign ones, ``*_ok``, load), none executes code, none takes more
than a bound, and the child's peak memory above its imports stays bounded (no 4 GB length field or bomb is believed)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from .corpus import MARKER, build

TIME_BOUND_S = 20  # per input, on a loaded 2-core machine (the slowest, the 256 MiB bomb check, takes ~3 s)
MEMORY_BOUND_MIB = 400  # above the imports: the 256 MiB an archive may inflate to before it is refused, + slack
# loaded without an error: converted image modes, archive members outside the archive skipped
BENIGN = {"mixed_modes_ok", "tar_traversal_ok", "zip_traversal_ok"}


@pytest.fixture(scope="module")
def corpus_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    items = build(root / "corpus")
    manifest = root / "manifest.json"
    manifest.write_text(json.dumps([(k, n, loader, str(p)) for k, n, loader, p in items]))
    proc = subprocess.run([sys.executable, "-m", "tests.fuzz.run_corpus", str(manifest)], capture_output=True,
                          text=True, timeout=600, cwd=Path(__file__).parents[2])
    assert proc.returncode == 0, proc.stderr[-3000:]
    return root, json.loads(proc.stdout.strip().splitlines()[-1])


def test_every_bad_input_is_a_babysit_error_naming_its_file(corpus_run, record_property):
    root, report = corpus_run
    bad = []
    for r in report["results"]:
        expected = "loaded" if r["name"] in BENIGN else "BabysitError"
        # folders are named by their folder (the bad image relative to it), files by their path
        named = r["outcome"] != "BabysitError" or r["path"] in r["message"] or str(Path(r["path"]).parent) in r["message"]
        if r["outcome"] != expected or not named or "\n" in r["message"]:
            bad.append((r["kind"], r["name"], r["loader"], r["outcome"], r["message"][:300]))
    assert bad == []
    counts = Counter(r["kind"] for r in report["results"])
    record_property("inputs_by_kind", dict(counts))
    print("bad-input corpus:", dict(counts), f"peak {report['peak_rss_mib']:.0f} MiB, "
          f"{report['peak_rss_mib'] - report['baseline_rss_mib']:.0f} MiB above the imports")


def test_nothing_executes_nothing_hangs_no_memory_blow_up(corpus_run):
    root, report = corpus_run
    assert not list(root.rglob(MARKER))  # os.system / eval / exec payloads never ran
    slow = [(r["name"], round(r["seconds"], 1)) for r in report["results"] if r["seconds"] > TIME_BOUND_S]
    assert slow == []
    assert report["peak_rss_mib"] - report["baseline_rss_mib"] < MEMORY_BOUND_MIB


def test_archive_members_outside_the_archive_are_neither_read_nor_written(corpus_run):
    from babysit.data.archives import read_archive

    root, _ = corpus_run
    for name in ("traversal.tar", "traversal.zip"):
        blobs, dirs = read_archive(root / "corpus" / "archives" / name)
        assert sorted(blobs) == sorted({"a/0.png", "a/1.png", "b/0.png", "b/1.png", "abs/0.png", "abs/1.png"} & {
            *blobs}) and not any(".." in n for n in blobs)
    assert not (root / "corpus" / "evil").exists() and not (root / "evil").exists() and not Path("/abs").exists()
