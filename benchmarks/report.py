"""Turn the harness's results into ``results.json``, ``benchmarks.md`` and two PNG charts (atomic writes)."""

from __future__ import annotations

import json
import os
import tempfile

ORDER = ["tinynet", "numpy-ref", "keras", "torch", "sklearn"]
LABEL = {"tinynet": "tinynet", "numpy-ref": "NumPy hand loop", "keras": "tf.keras", "torch": "PyTorch",
         "sklearn": "sklearn MLP"}
COLOR = {"tinynet": "#d62728", "numpy-ref": "#7f7f7f", "keras": "#ff7f0e", "torch": "#1f77b4",
         "sklearn": "#2ca02c"}


def _atomic_write(path: str, write) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".bench-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_json(path: str, doc: dict) -> None:
    _atomic_write(path, lambda fh: fh.write(json.dumps(doc, indent=1).encode()))


def _systems(summary_job: dict) -> list[str]:
    return [s for s in ORDER if s in summary_job]


# -- charts ---------------------------------------------------------------------------------------------
def write_charts(doc: dict, out: str) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summary, written = doc["summary"], []
    panels = [("seed", "fit_seconds", "seed job: fit time, s (lower is better)", 1.0),
              ("wide", "step_ms", "wide 784-512-512-10, batch 128: ms per step", 1.0),
              ("predict", "predict_default_per_s", "predict: k samples/s (default call)", 1e-3),
              ("seed", "peak_rss_mb", "peak RSS of the seed-job process, MiB", 1.0)]
    panels = [p for p in panels if p[0] in summary]
    if panels:
        fig, axes = plt.subplots(len(panels), 1, figsize=(8, 2.1 * len(panels) + 0.6), squeeze=False)
        for ax, (job, field, title, scale) in zip(axes[:, 0], panels, strict=True):
            systems = _systems(summary[job])[::-1]
            med = [summary[job][s][field]["median"] * scale for s in systems]
            lo = [m - summary[job][s][field]["min"] * scale for m, s in zip(med, systems, strict=True)]
            hi = [summary[job][s][field]["max"] * scale - m for m, s in zip(med, systems, strict=True)]
            ax.barh([LABEL[s] for s in systems], med, xerr=[lo, hi], color=[COLOR[s] for s in systems],
                    capsize=3)
            for i, (m, h) in enumerate(zip(med, hi, strict=True)):
                label = f"  {m:.0f}" if m >= 100 else f"  {m:.3g}"
                ax.text(m + h, i, label, va="center", ha="left", fontsize=9)
            ax.set_title(title, fontsize=10, loc="left")
            ax.set_xlim(0, max(v + h for v, h in zip(med, hi, strict=True)) * 1.25)
            ax.tick_params(labelsize=9)
        fig.suptitle(f"tinynet vs peers — median of {doc['repeats']} runs, bars: min–max"
                     + (f", threads capped at {doc['threads']}" if doc.get("threads") else "")
                     + (" (QUICK MODE: tiny sizes)" if doc["quick"] else ""), fontsize=11)
        fig.tight_layout()
        path = os.path.join(out, "bench_seed.png")
        _atomic_write(path, lambda fh: fig.savefig(fh, format="png", dpi=110))
        plt.close(fig)
        written.append(path)
    if "scaling" in summary:
        fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
        for ax, axis, xlabel, title in (
                (axes[0], "by_batch", "batch size", "400-25-15-10: cost per sample vs batch size"),
                (axes[1], "by_width", "hidden units (two hidden layers), batch 32",
                 "400-H-H-10: cost per sample vs width")):
            for s in _systems(summary["scaling"]):
                pts = summary["scaling"][s][axis]
                xs = sorted(int(k) for k in pts)
                ys = [pts[str(x)]["median"] for x in xs]
                ax.plot(xs, ys, "o-", color=COLOR[s], label=LABEL[s])
            ax.set_xscale("log", base=2)
            ax.set_xticks(xs, [str(x) for x in xs])
            ax.minorticks_off()
            ax.set_yscale("log")
            ax.set_xlabel(xlabel)
            ax.set_ylabel("µs per training sample (median)")
            ax.set_title(title, fontsize=10)
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=9)
        fig.tight_layout()
        path = os.path.join(out, "bench_scaling.png")
        _atomic_write(path, lambda fh: fig.savefig(fh, format="png", dpi=110))
        plt.close(fig)
        written.append(path)
    return written


# -- markdown -------------------------------------------------------------------------------------------
def _mr(entry: dict, fmt: str, scale: float = 1.0) -> str:
    """'median (min–max)'."""
    m, lo, hi = (entry[k] * scale for k in ("median", "min", "max"))
    if entry["n"] == 1:
        return format(m, fmt)
    return f"{format(m, fmt)} ({format(lo, fmt)}–{format(hi, fmt)})"



def _raw_job(doc: dict, name: str) -> dict:
    """The first raw result of job ``name`` (its parameters and data description are the same in every repeat)."""
    return next(r for r in doc["raw"] if r["job"] == name)


def _ratio_sentence(name: str, ours: float, theirs: float, lower_is_better: bool = True) -> str:
    r = theirs / ours if lower_is_better else ours / theirs
    if r >= 1:
        return f"tinynet is **{r:.2f}x faster** than {name}"
    return f"tinynet is **{1 / r:.2f}x slower** than {name}"


def write_markdown(doc: dict, path: str, charts: list[str]) -> None:
    s, m = doc["summary"], doc["machine"]
    lines = ["# Benchmarks (issue 6)", ""]
    if doc.get("note"):
        lines += [f"> **{doc['note']}**", ""]
    if doc["quick"]:
        lines += ["> **QUICK MODE**: tiny sizes, one repeat — harness check only; the numbers mean nothing.",
                  ""]
    command = doc.get("command") or "python benchmarks/run.py" + (" --quick" if doc["quick"] else "")
    lines += [f"Generated by `{command}` "
              f"({doc['repeats']} repeat(s), started {doc['started']}, {doc['wall_seconds']:.0f} s wall). "
              "Every measurement ran in its own process; repeats rotate the order of the systems; cells are "
              "**median (min–max)** over repeats. Raw numbers: `results.json` beside this file when "
              "written by "
              "the harness.", ""]
    data = next((v.get("data") for job in ("seed", "predict") if job in s for v in s[job].values()), None)
    if data:
        lines += [f"Data for the seed/held-out/predict jobs: **{data}** "
                  + ("(the real 20x20 digits from `TINYNET_DIGITS`)." if data == "digits" else
                     "(TINYNET_DIGITS was not set: a synthetic set of the same shape, 5,000x400, 10 "
                     "classes).")
                  + " Wide and scaling jobs always use synthetic data.", ""]
    lines += ["## Machine", "", "| | |", "|---|---|", f"| CPU | {m['cpu']} |", f"| cores | {m['cores']} |",
              f"| load average at start | {' '.join(m.get('loadavg', []))} |",
              f"| Python | {m['python']} ({m['platform']}) |", f"| NumPy | {m['numpy']} |",
              f"| thread cap (`--threads`) | {doc.get('threads') or 'none: each library chooses'} |"]
    for p in m.get("threadpools", []):
        lines.append(f"| {p['user_api']} | {p['internal_api']} {p.get('version') or ''} "
                     f"({p.get('prefix')}, {p['num_threads']} threads, {p.get('architecture') or '-'}) |")
    versions = {}
    for res in doc["raw"]:
        versions.update(res.get("versions", {}))
    for k in sorted(versions):
        lines.append(f"| {k} | {versions[k]} |")
    if doc["skipped"]:
        lines.append(f"| not measured | {', '.join(doc['skipped'])} (not importable) |")
    lines.append("")
    for chart in charts:
        lines += [f"![{os.path.basename(chart)}]({os.path.basename(chart)})", ""]

    if "seed" in s:
        seed = s["seed"]
        job = _raw_job(doc, "seed")
        lines += ["## Seed job: fit", "",
                  f"400-25-15-10 (relu, relu, linear), SparseCategoricalCrossentropy from logits, Adam(1e-3, "
                  f"epsilon 1e-7), batch {job['batch']}, {job['epochs']} epochs on {job['samples']} "
                  "samples = "
                  f"**{job['steps']} steps**. Fit time is the wall time of each library's training call "
                  "(Keras's "
                  "includes tracing its train function; PyTorch's first steps are its warm-up). Training "
                  "accuracy "
                  "on the same samples after the fit. Held-out accuracy: a separate fit (same settings) on "
                  "a fixed "
                  "stratified 80%, scored on the other 20%. Peak RSS: `ru_maxrss` of the seed-job process "
                  "(imports + data + fit).", "",
                  "| system | fit s | µs/step | vs tinynet | train acc | held-out acc | peak RSS MiB |",
                  "|---|---|---|---|---|---|---|"]
        ours = seed.get("tinynet", {}).get("fit_seconds", {}).get("median")
        for sysname in _systems(seed):
            e = seed[sysname]
            held = s.get("heldout", {}).get(sysname)
            ratio = f"{e['fit_seconds']['median'] / ours:.2f}x" if ours else "-"
            lines.append(f"| {LABEL[sysname]} | {_mr(e['fit_seconds'], '.2f')} | "
                         f"{_mr(e['step_us'], '.0f')} | "
                         f"{ratio} | {_mr(e['train_accuracy'], '.3f')} | "
                         f"{_mr(held['heldout_accuracy'], '.3f') if held else '-'} | "
                         f"{_mr(e['peak_rss_mb'], '.0f')} |")
        lines.append("")
        if ours:
            for sysname in _systems(seed):
                if sysname != "tinynet":
                    theirs = seed[sysname]["fit_seconds"]["median"]
                    lines.append(f"- {_ratio_sentence(LABEL[sysname], ours, theirs)} (seed fit, medians).")
            if "numpy-ref" in seed:
                r = ours / seed["numpy-ref"]["fit_seconds"]["median"]
                lines.append(f"- Target ≤ 1.10x the hand-written NumPy loop: tinynet takes **{r:.2f}x** its "
                             f"time — {'met' if r <= 1.1 else 'NOT met'}.")
            if "keras" in seed:
                frac = seed["tinynet"]["peak_rss_mb"]["median"] / seed["keras"]["peak_rss_mb"]["median"]
                lines.append(f"- Peak memory: tinynet's process peaks at **{frac:.2f}** of TensorFlow's.")
        lines.append("")

    if "wide" in s:
        wide = s["wide"]
        job = _raw_job(doc, "wide")
        lines += ["## Wide layers", "",
                  f"{'-'.join(map(str, job['sizes']))}, batch {job['batch']}, synthetic data; "
                  f"{job['params']['warmup_steps']} warm-up steps, then {job['steps']} steps timed through "
                  "each "
                  "library's own fit call (sklearn: `partial_fit`).", "",
                  "| system | ms/step | vs tinynet |", "|---|---|---|"]
        ours = wide.get("tinynet", {}).get("step_ms", {}).get("median")
        for sysname in _systems(wide):
            ratio = f"{wide[sysname]['step_ms']['median'] / ours:.2f}x" if ours else "-"
            lines.append(f"| {LABEL[sysname]} | {_mr(wide[sysname]['step_ms'], '.2f')} | {ratio} |")
        if ours and "torch" in wide:
            r = ours / wide["torch"]["step_ms"]["median"]
            lines += ["", f"- Target within 1.25x of PyTorch per step: tinynet takes **{r:.2f}x** PyTorch's "
                          f"time — {'met' if r <= 1.25 else 'NOT met'}."]
        lines.append("")

    if "predict" in s:
        pred = s["predict"]
        job = _raw_job(doc, "predict")
        lines += ["## Predict", "",
                  f"{job['samples']} samples through an initialised seed model; "
                  f"{job['params'].get('warmup_calls', 1)} warm-up call(s), then the median of "
                  f"{job['params']['calls']} calls. *Default* is each library's plain predict call (stated per "
                  "row); *one batch* passes all samples at once.", "",
                  "| system | default call | default: ms | default: k samples/s | one batch: ms | "
                  "one batch: k samples/s |", "|---|---|---|---|---|---|"]
        for sysname in _systems(pred):
            e = pred[sysname]
            lines.append(f"| {LABEL[sysname]} | {e['default_predict']} | "
                         f"{_mr(e['predict_default_seconds'], '.2f', 1e3)} | "
                         f"{_mr(e['predict_default_per_s'], '.0f', 1e-3)} | "
                         f"{_mr(e['predict_one_batch_seconds'], '.2f', 1e3)} | "
                         f"{_mr(e['predict_one_batch_per_s'], '.0f', 1e-3)} |")
        if "tinynet" in pred:
            ours_d = pred["tinynet"]["predict_default_seconds"]["median"]
            ours_b = pred["tinynet"]["predict_one_batch_seconds"]["median"]
            lines.append("")
            for sysname in _systems(pred):
                if sysname != "tinynet":
                    lines.append(
                        "- default call: "
                        f"{_ratio_sentence(LABEL[sysname], ours_d, pred[sysname]['predict_default_seconds']['median'])};"  # noqa: E501
                        " one batch: "
                        f"{_ratio_sentence(LABEL[sysname], ours_b, pred[sysname]['predict_one_batch_seconds']['median'])}.")  # noqa: E501
        lines.append("")

    if "scaling" in s:
        sc = s["scaling"]
        job = _raw_job(doc, "scaling")
        lines += ["## Scaling", "",
                  "Short timed fits after a 2-step warm-up, synthetic data: µs per training sample. By "
                  "batch size: "
                  f"400-25-15-10 over {job['params']['batch_samples']} samples. By width: 400-H-H-10 at "
                  "batch "
                  f"{job['params']['width_batch']} over {job['params']['width_samples']} samples.", ""]
        for axis, head in (("by_batch", "batch"), ("by_width", "hidden units H")):
            systems = _systems(sc)
            keys = sorted({int(k) for sname in systems for k in sc[sname][axis]})
            lines += ["| " + head + " | " + " | ".join(LABEL[x] for x in systems) +
                      (" | tinynet / PyTorch |" if "torch" in systems and "tinynet" in systems else " |"),
                      "|---" * (len(systems) + 1 + ("torch" in systems and "tinynet" in systems)) + "|"]
            for k in keys:
                cells = [(_mr(sc[x][axis][str(k)], '.2f') if str(k) in sc[x][axis] else "-") for x in systems]
                row = f"| {k} | " + " | ".join(cells)
                if "torch" in systems and "tinynet" in systems:
                    ratio = sc["tinynet"][axis][str(k)]["median"] / sc["torch"][axis][str(k)]["median"]
                    row += f" | {ratio:.2f}x"
                lines.append(row + " |")
            lines.append("")

    prof = doc.get("profile")
    if prof:
        ins = prof["instrumented"]
        lines += ["## Profile: where a tinynet seed-job step goes", "",
                  f"`benchmarks/profile_tinynet.py` ({prof['data']} data, {ins['steps']} steps): a real "
                  "`model.fit` with a timer wrapped around each part it calls, next to a plain `model.fit` "
                  "of the same length. µs per step (the per-epoch shuffle amortised per step); shares of the "
                  "instrumented fit's wall.",
                  "", "| part | µs/step | share |", "|---|---|---|"]
        total = ins["instrumented_total_us"]
        rows = dict(ins["us_per_step"])
        if "rest_us" in ins:
            rows["loop, batching, checks, timers (rest)"] = ins["rest_us"]
        for k, v in rows.items():
            lines.append(f"| {k} | {v:.1f} | {v / total:.0%} |")
        lines += [f"| **total (instrumented fit)** | **{total:.1f}** | 100% |",
                  f"| plain `model.fit`, same length | {ins['plain_fit_us_per_step']:.1f} | |", "",
                  "The NumPy calls those parts are made of, alone at the seed shapes (µs per call):", "",
                  "| call | µs |", "|---|---|"]
        lines += [f"| {k} | {v:.2f} |" for k, v in prof["ops_us"].items()]
        th = prof["threads_fit_seconds"]
        lines += ["", f"BLAS threads (`threadpoolctl.threadpool_limits`), fit s, {prof['threads_epochs']} "
                      "epochs, median:", "", "| system | 1 thread | 2 threads |", "|---|---|---|"]
        lines += [f"| {LABEL[k]} | {v['1_thread']:.3f} | {v['2_thread']:.3f} |" for k, v in th.items()]
        lines.append("")


    lines += ["## Method notes", "",
              "- Every system trains in float32 on the same arrays; all use Adam(lr 1e-3, beta 0.9/0.999, "
              "epsilon 1e-7) and softmax cross-entropy on logits. PyTorch and sklearn initialise with "
              "their own "
              "schemes (not Glorot), so accuracies differ slightly for that reason too.",
              "- The arrays are row-major (C order) float32, shuffled once. `scipy.io.loadmat` returns "
              "column-major arrays; tinynet copies its input to row-major once per `fit`/`predict` call "
              "(before that fix, the seed program on loadmat's arrays took 17 s instead of 2 s).",
              "- tf.keras runs with TensorFlow's defaults (threads chosen by TF unless `--threads`); "
              "`TF_ENABLE_ONEDNN_OPTS` is "
              f"`{doc['tf_onednn']}` for the Keras worker (`--tf-onednn`; the Makefile's `=0` for the "
              "tests is "
              "removed for benchmarks unless asked for). `verbose=0`, no metrics compiled (the same for "
              "tinynet).",
              "- PyTorch: a plain loop (`nn.Sequential`, `CrossEntropyLoss`, `torch.optim.Adam(eps=1e-7)`, "
              "`randperm` each epoch, `loss.item()` each step for the epoch loss), default intra-op "
              "threads unless `--threads`.",
              "- sklearn: `MLPClassifier(hidden_layer_sizes=(25, 15), solver='adam', batch_size=32, "
              "learning_rate_init=1e-3, max_iter=40, epsilon=1e-7, alpha=0, tol=0, n_iter_no_change=41, "
              "shuffle=True)`; its final ConvergenceWarning (max_iter reached, by design) is silenced.",
              "- NumPy hand loop: `benchmarks/numpy_ref.py`, written for this harness: one flat parameter "
              "and "
              "gradient buffer, Adam as in-place ufuncs over it, preallocated activations, ufunc reductions.",
              "- Speed in tinynet comes from its design: one flat parameter and one flat gradient buffer "
              "(an optimizer step is one update of the whole model), row-major inputs (copied once per "
              "call), the fused log-sum-exp cross-entropy, and `predict` running up to 8192 rows per "
              "layer call. The formulas themselves are written plainly, with no speed trick beside them.",
              "- Peak RSS is the whole worker process, so it includes each library's import footprint.",
              "- Threads on a shared machine: with 2 threads per library (default) and the other core busy, "
              "OpenMP/BLAS parallel regions stall on the descheduled thread (one PyTorch seed fit took 261 s "
              "that way, against about 11 s capped at 1 thread in the same hour). `--threads 1` removes that "
              "effect; on a quiet machine run both and report the defaults.", ""]
    text = "\n".join(lines)
    _atomic_write(path, lambda fh: fh.write(text.encode()))
