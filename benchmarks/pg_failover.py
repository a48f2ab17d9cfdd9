"""Losing the PostgreSQL primary, N times: the failover scenario of
tests/server/failover.py (synchronous standby, SIGKILL of the primary under settlement load
from several kiosks, ``pg_ctl promote``) run again and again, with what each run lost,
doubled and how long the platform took to serve again after the promotion.

Run from the repository root (it uses the tests' PostgreSQL and platform helpers):

    python -m benchmarks.pg_failover --runs 20 [--json out.json]

Targets: 0 acknowledged settlements lost and 0 doubled over all runs; serving again
<= 10 s after the promotion.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import tempfile
from pathlib import Path

from tests.server import failover


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pg_failover",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--kiosks", type=int, default=4)
    parser.add_argument("--bills-each", type=int, default=25)
    parser.add_argument("--kill-after", type=int, default=30,
                        help="settlements acknowledged before the primary is killed")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    logging.disable(logging.WARNING)  # the kiosks' delivery log; the table is the output
    rows: list[dict[str, object]] = []
    for run in range(1, args.runs + 1):
        with tempfile.TemporaryDirectory(prefix="pg-failover-") as tmp:
            try:
                report = failover.run(Path(tmp), kiosks=args.kiosks,
                                      bills_each=args.bills_each, kill_after=args.kill_after)
            except Exception as exc:  # a run that could not be set up counts as failed
                rows.append({"run": run, "ok": False, "error": f"{type(exc).__name__}: {exc}",
                             "lost": 0, "doubled": 0, "serving_again_s": float("inf")})
                print(json.dumps(rows[-1]), flush=True)
                continue
        row = {"run": run, "ok": report.ok, "bills": report.bills,
               "acked_before_kill": report.acknowledged_before_kill,
               "stored": report.stored, "lost": len(report.lost), "doubled": report.doubled,
               "undelivered": report.undelivered,
               "serving_again_s": round(report.serving_again_s, 2),
               "audit_ok": report.audit_ok, "recon_matches": report.recon_matches}
        rows.append(row)
        print(json.dumps(row), flush=True)
    again = [float(str(r["serving_again_s"])) for r in rows]
    summary = {"runs": len(rows), "all_ok": all(r["ok"] for r in rows),
               "lost": sum(int(str(r["lost"])) for r in rows),
               "doubled": sum(int(str(r["doubled"])) for r in rows),
               "serving_again_s_median": round(statistics.median(again), 2),
               "serving_again_s_max": max(again)}
    print(json.dumps(summary), flush=True)
    if args.json:
        args.json.write_text(json.dumps({"runs": rows, "summary": summary}, indent=2),
                             encoding="utf-8")
    return 0 if summary["all_ok"] and summary["serving_again_s_max"] <= 10 else 1


if __name__ == "__main__":
    sys.exit(main())
