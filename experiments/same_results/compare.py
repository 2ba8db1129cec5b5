"""Compare two outputs of run.sh: eval-plan rows (all but the planning times) and archive
shards byte for byte (manifests as parsed JSON, timestamps aside). Exit status 1 on any
difference.

    .venv/bin/python experiments/same_results/compare.py BEFORE_OUT AFTER_OUT
"""

import json
import sys
from pathlib import Path


def _rows(root: Path, d: str) -> dict:
    out = {}
    for line in (root / d / "results.jsonl").read_text().splitlines():
        r = json.loads(line)
        r.pop("plan_times_s")
        out[(r["seed"], r["planner"])] = r
    return out


def _same_file(a: Path, b: Path) -> bool:
    if not b.exists():
        return False
    if a.name == "manifest.json":
        ma, mb = json.loads(a.read_text()), json.loads(b.read_text())
        for m in (ma, mb):
            m.pop("updated", None)
            m.pop("created", None)
        return ma == mb
    return a.read_bytes() == b.read_bytes()


def main() -> int:
    a, b = Path(sys.argv[1]), Path(sys.argv[2])
    ok = True
    for d in sorted(p.name for p in a.iterdir() if p.is_dir()):
        if d.startswith("ep_"):
            ra, rb = _rows(a, d), _rows(b, d)
            same = ra == rb
            print(f"{d}: {len(ra)} rows, identical={same}")
            for k in sorted(set(ra) | set(rb)):
                if ra.get(k) != rb.get(k):
                    print("   ", k, ra.get(k), rb.get(k))
        else:
            files = sorted(p.relative_to(a / d) for p in (a / d).rglob("*") if p.is_file())
            other = sorted(p.relative_to(b / d) for p in (b / d).rglob("*") if p.is_file())
            bad = [str(f) for f in files if not _same_file(a / d / f, b / d / f)]
            same = files == other and not bad
            print(f"{d}: {len(files)} files, identical={same}", bad or "")
        ok &= same
    print("ALL IDENTICAL" if ok else "DIFFERENCES")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
