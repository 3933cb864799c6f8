"""Benchmark harness for issue 6: tinynet against Keras, PyTorch, scikit-learn and a hand-written NumPy loop.

    python benchmarks/run.py                    # full run: writes docs/benchmarks.md, docs/bench_*.png
    python benchmarks/run.py --repeats 3
    python benchmarks/run.py --quick --out DIR  # tiny sizes, one repeat, for CI (never writes docs/)

Every measurement runs in its own process (``benchmarks/worker.py``), so each library's imports, threads and
memory are its own and ``ru_maxrss`` is that library's peak. Repeats alternate the order of the systems.
Summaries are the median with the min-max range over repeats. In quick mode each system runs all its jobs in
one process, to keep CI short. Raw results go to ``OUT/results.json``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DOCS = os.path.join(ROOT, "docs")
sys.path.insert(0, HERE)

import common  # noqa: E402
import report  # noqa: E402

ALL_SYSTEMS = ["tinynet", "numpy-ref", "keras", "torch", "sklearn"]
ALL_JOBS = ["seed", "heldout", "wide", "predict", "scaling"]
SCALING_SYSTEMS = {"tinynet", "numpy-ref", "torch"}
IMPORT_NAME = {"keras": "tensorflow", "torch": "torch", "sklearn": "sklearn", "tinynet": "tinynet",
               "numpy-ref": "numpy"}


def available(system: str) -> bool:
    if system == "tinynet":
        return True
    return importlib.util.find_spec(IMPORT_NAME[system]) is not None


THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BENCH_THREADS")


def worker_env(onednn: str, threads: int | None) -> dict:
    """The workers' environment: the repo on PYTHONPATH, the oneDNN choice, and optionally a thread cap.

    ``threads`` (``--threads``) sets OpenMP/BLAS variables and ``BENCH_THREADS``, which the adapters pass to
    ``torch.set_num_threads`` and TensorFlow's intra/inter-op settings; ``None``: library defaults.
    """
    env = dict(os.environ)
    for var in THREAD_VARS:
        env.pop(var, None)
    if threads is not None:
        for var in THREAD_VARS:
            env[var] = str(threads)
    env["PYTHONPATH"] = ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if onednn == "default":
        env.pop("TF_ENABLE_ONEDNN_OPTS", None)
    else:
        env["TF_ENABLE_ONEDNN_OPTS"] = onednn
    return env


def run_worker(system: str, jobs: list[str], seed: int, quick: bool, env: dict, timeout: float) -> list[dict]:
    cmd = [sys.executable, os.path.join(HERE, "worker.py"), "--system", system, "--job", ",".join(jobs),
           "--seed", str(seed)] + (["--quick"] if quick else [])
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    results = [json.loads(line[len("BENCH_RESULT "):]) for line in proc.stdout.splitlines()
               if line.startswith("BENCH_RESULT ")]
    if proc.returncode != 0 or len(results) != len(jobs):
        raise RuntimeError(f"worker {system} {jobs} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return results


def plan(systems: list[str], jobs: list[str], repeats: int, quick: bool):
    """``(repeat, system, [jobs])`` in run order: systems rotate by one place each repeat."""
    order = []
    for r in range(repeats):
        rotated = systems[r % len(systems):] + systems[:r % len(systems)]
        if quick:
            for s in rotated:
                js = [j for j in jobs if j != "scaling" or s in SCALING_SYSTEMS]
                order.append((r, s, js))
            continue
        for job in jobs:
            for s in rotated:
                if job == "scaling" and s not in SCALING_SYSTEMS:
                    continue
                order.append((r, s, [job]))
    return order


def summarise(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


SUMMARY_FIELDS = {
    "seed": ["fit_seconds", "step_us", "train_accuracy", "peak_rss_mb", "rss_before_fit_mb"],
    "heldout": ["heldout_accuracy", "train_accuracy", "fit_seconds"],
    "wide": ["step_ms", "peak_rss_mb"],
    "predict": ["predict_default_seconds", "predict_one_batch_seconds", "predict_default_per_s",
                "predict_one_batch_per_s"],
}


def summarise_all(raw: list[dict]) -> dict:
    out: dict = {}
    for res in raw:
        out.setdefault(res["job"], {}).setdefault(res["system"], []).append(res)
    summary: dict = {}
    for job, by_system in out.items():
        summary[job] = {}
        for system, results in by_system.items():
            if job == "scaling":
                entry = {}
                for axis in ("by_batch", "by_width"):
                    points = {}
                    for res in results:
                        for pt in res[axis]:
                            key = pt["batch"] if axis == "by_batch" else pt["sizes"][1]
                            points.setdefault(key, []).append(pt["us_per_sample"])
                    entry[axis] = {str(k): summarise(v) for k, v in points.items()}
                summary[job][system] = entry
            else:
                summary[job][system] = {f: summarise([r[f] for r in results]) for f in SUMMARY_FIELDS[job]}
                summary[job][system]["data"] = results[0].get("data")
                if job == "predict":
                    summary[job][system]["default_predict"] = results[0]["default_predict"]
    return summary


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="tinynet benchmark harness (issue 6)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one repeat, output to a temp dir")
    parser.add_argument("--repeats", type=int, default=None,
                        help="repeats per measurement (default 5; quick 1)")
    parser.add_argument("--out", default=None, help="output folder (default docs/; quick: a new temp dir)")
    parser.add_argument("--systems", default=",".join(ALL_SYSTEMS), help="comma-separated subset")
    parser.add_argument("--jobs", default=",".join(ALL_JOBS), help="comma-separated subset")
    parser.add_argument("--tf-onednn", choices=["default", "0", "1"], default="default",
                        help="TF_ENABLE_ONEDNN_OPTS for the Keras worker (default: unset = TF's default)")
    parser.add_argument("--threads", type=int, default=None,
                        help="cap every library at N threads (default: each library's own default)")
    parser.add_argument("--note", default="", help="a line shown at the top of benchmarks.md")
    parser.add_argument("--render-only", action="store_true",
                        help="measure nothing: rewrite benchmarks.md and the charts from OUT/results.json")
    parser.add_argument("--profile-only", action="store_true",
                        help="re-run only the tinynet profile into OUT/results.json, then render")
    parser.add_argument("--no-profile", action="store_true", help="skip the tinynet step profile")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per worker process")
    args = parser.parse_args(argv)

    systems = [s for s in args.systems.split(",") if s]
    jobs = [j for j in args.jobs.split(",") if j]
    for s in systems:
        if s not in ALL_SYSTEMS:
            parser.error(f"--systems: expected names from {ALL_SYSTEMS}, received {s!r}")
    for j in jobs:
        if j not in ALL_JOBS:
            parser.error(f"--jobs: expected names from {ALL_JOBS}, received {j!r}")
    repeats = args.repeats if args.repeats is not None else (1 if args.quick else 5)
    if args.threads is not None and args.threads < 1:
        parser.error(f"--threads: expected a positive integer, received {args.threads}")
    if repeats < 1:
        parser.error(f"--repeats: expected a positive integer, received {repeats}")
    out = args.out or (tempfile.mkdtemp(prefix="tinynet-bench-") if args.quick else DOCS)
    if args.quick and os.path.realpath(out) == os.path.realpath(DOCS):
        parser.error("--out: quick mode never writes docs/; give another folder")
    os.makedirs(out, exist_ok=True)
    env = worker_env(args.tf_onednn, args.threads)
    if args.render_only or args.profile_only:
        with open(os.path.join(out, "results.json")) as fh:
            doc = json.load(fh)
        if args.profile_only:
            doc["profile"] = run_profile(env, doc["quick"], args.timeout)
            report.write_json(os.path.join(out, "results.json"), doc)
        render(doc, out)
        return 0

    skipped = [s for s in systems if not available(s)]
    systems = [s for s in systems if s not in skipped]
    for s in skipped:
        print(f"skipping {s}: {IMPORT_NAME[s]} is not importable", flush=True)
    raw = []
    started = time.time()
    for r, system, js in plan(systems, jobs, repeats, args.quick):
        t0 = time.perf_counter()
        results = run_worker(system, js, seed=r, quick=args.quick, env=env, timeout=args.timeout)
        raw.extend(results)
        print(f"[repeat {r + 1}/{repeats}] {system:9s} {','.join(js):10s} {time.perf_counter() - t0:6.1f}s",
              flush=True)
    profile = None
    if "tinynet" in systems and not args.no_profile:
        profile = run_profile(env, args.quick, args.timeout)

    doc = {"quick": args.quick, "repeats": repeats, "systems": systems, "skipped": skipped, "jobs": jobs,
           "tf_onednn": args.tf_onednn, "note": args.note,
           "threads": args.threads,
           "command": " ".join(["python benchmarks/run.py"] + list(sys.argv[1:] if argv is None else argv)),
           "started": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started)),
           "wall_seconds": time.time() - started, "machine": common.machine(), "raw": raw,
           "summary": summarise_all(raw), "profile": profile}
    report.write_json(os.path.join(out, "results.json"), doc)
    render(doc, out)
    return 0


def run_profile(env: dict, quick: bool, timeout: float) -> dict:
    """``benchmarks/profile_tinynet.py --json`` in its own process; its parsed output."""
    cmd = [sys.executable, os.path.join(HERE, "profile_tinynet.py"), "--json"]
    cmd += ["--quick"] if quick else []
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"profile failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    print("profile done", flush=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def render(doc: dict, out: str) -> None:
    charts = report.write_charts(doc, out)
    report.write_markdown(doc, os.path.join(out, "benchmarks.md"), charts)
    print(f"wrote {out}/benchmarks.md, results.json and {len(charts)} chart(s)", flush=True)


if __name__ == "__main__":
    sys.exit(main())
