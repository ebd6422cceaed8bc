"""Run the course's benchmarks and print one table of ratios and budgets; write bench/RESULTS.md.

usage: python bench/run_all.py [--from-summary | --skip-notebooks] [--quick-only] [--notebooks NB ...]
                               [--repeats 3] [--vae-epochs 3] [--vae-n N] [--skip-data] [--skip-vae]
                               [--skip-references | --only-references] [--ref-budgets 60 180] [--ref-threads 1]

1. data handling   labhelpers batches vs torchvision DataLoader (target >= 8x faster); an epoch of the VAE
                   with labhelpers batches vs pre-sliced tensors (target <= 1.3x)
2. reference VAE   pytorch/examples vae/main.py loop vs labhelpers.vae.train_vae (target >= 2x, equal loss)
3. notebooks       wall time and peak RSS in quick and full mode (budgets 30 s / 10 min / 3 GB)
4. quality         the headline numbers of every notebook's build/metrics/*.json
5. side by side    the course's diffusion, flow matching, flow and PixelCNN against diffusers, torchcfm, normflows and
                   the UvA gated PixelCNN, same data and CPU-time budgets, scored by FID / bits/dim / nats (ratios);
                   and lecture 11's latent flow matching against the same flow matching in pixel space
Every ratio compares two runs made in this process on this machine; nothing here asserts on time.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TQDM_DISABLE", "1")  # before tqdm is imported: no progress bars in the table
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import data_bench, notebook_bench, reference_models, vae_bench  # noqa: E402
from bench.timing import load_average, machine  # noqa: E402

DATASET = "fashion-mnist"
TV_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
            "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
TARGETS = {"data_epoch": 8.0, "vae_data_overhead": 1.3, "vae_speedup": 2.0}


# ---------------------------------------------------------------------------------------------
# the pieces
# ---------------------------------------------------------------------------------------------

def prepare_torchvision_root(tmp: Path, dataset: str = DATASET) -> Path:
    """Decompress the very files labhelpers loads into <tmp>/FashionMNIST/raw/, where torchvision looks."""
    from labhelpers.data import find

    files = {}
    for split, names in TV_FILES.items():
        files.update(dict(zip(names, find(dataset, split))))
    return data_bench.torchvision_root(files, tmp)


def cold_load(split: str = "train", limit: int | None = None):
    """labhelpers.data.load as a fresh process sees it: the checksum cache emptied first."""
    import labhelpers.data as lhd

    lhd._verified.clear()
    return lhd.load(DATASET, split, limit=limit)


def run_data(tv_root: Path, repeats: int, vae_n: int | None) -> dict:
    print("1. data handling ...", flush=True)
    out = {"epoch": data_bench.bench_data_epoch(lambda: cold_load("train"), tv_root, repeats=repeats)}
    x, _ = cold_load("train", limit=vae_n)
    out["vae_epoch"] = data_bench.bench_vae_data_overhead(x, repeats=repeats)
    return out


def run_vae(tv_root: Path, epochs: int, vae_n: int | None) -> dict:
    print(f"2. reference VAE vs course VAE ({epochs} epochs each) ...", flush=True)
    from torch.utils.data import Subset

    def tv(train: bool):
        ds = data_bench.torchvision_dataset(tv_root, train=train)
        return Subset(ds, range(min(vae_n, len(ds)))) if (train and vae_n) else ds

    return vae_bench.bench_vae_reference(lambda split: cold_load(split, limit=vae_n if split == "train" else None),
                                         tv, epochs=epochs)


def run_reference_part(args) -> dict:
    budgets = ", ".join(f"{b:g}" for b in args.ref_budgets)
    print(f"5. side by side with the libraries: budgets {budgets} CPU-s per model, {args.ref_threads} torch "
          f"thread(s) ...", flush=True)
    settings = reference_models.Settings(budgets_cpu_s=tuple(args.ref_budgets), threads=args.ref_threads,
                                         n_samples=args.ref_samples, hf_samples=args.ref_hf_samples,
                                         sample_steps=args.ref_sample_steps, judge_epochs=args.ref_judge_epochs,
                                         comparisons=tuple(args.ref_comparisons),
                                         fm_conditional=not args.ref_unconditional_fm,
                                         latent_sample_steps=args.ref_latent_sample_steps)
    return reference_models.run_references(lambda split: cold_load(split), settings, n_train=args.ref_n_train,
                                           log=lambda m: print(m, flush=True))


def run_notebook_part(args) -> tuple[dict[str, list[dict]], dict[str, str]]:
    modes = ["quick"] if args.quick_only else ["quick", "full"]
    rows, source = {}, {}
    for mode in modes:
        if args.from_summary:
            got = notebook_bench.from_summary(mode)
            if got is None:
                print(f"3. no build/run_summary_{mode}.json: run `make run{' QUICK=1' if mode == 'quick' else ''}` "
                      f"first, or drop --from-summary", flush=True)
                continue
            rows[mode], source[mode] = got[0], f"from {got[1]}"
        else:
            nbs = notebook_bench.notebook_paths(args.notebooks)
            print(f"3. notebooks, {mode} mode ({len(nbs)}) ...", flush=True)
            rows[mode] = notebook_bench.run_notebooks(mode, nbs, kernel=args.kernel)
            source[mode] = "run by bench/run_all.py"
    return rows, source


# ---------------------------------------------------------------------------------------------
# the table
# ---------------------------------------------------------------------------------------------

def _status(ok: bool | None) -> str:
    return "n/a" if ok is None else ("ok" if ok else "MISS")


def summary_rows(results: dict) -> list[list[str]]:
    """The one table: [benchmark, measured, baseline, ratio, target, status] rows."""
    rows = []
    d = results.get("data")
    if d:
        e = d["epoch"]
        rows.append([f"1a. epoch of batches ({e['n_images']:,} images, batch {e['batch_size']}, shuffled)",
                     f"labhelpers {e['labhelpers_epoch_s']:.3f} s", f"torchvision DataLoader {e['torchvision_epoch_s']:.3f} s",
                     f"{e['epoch_ratio']:.1f}x faster", f">= {TARGETS['data_epoch']:g}x",
                     _status(e["epoch_ratio"] >= TARGETS["data_epoch"])])
        rows.append(["1a'. load + one epoch (info)",
                     f"labhelpers {e['labhelpers_load_s'] + e['labhelpers_epoch_s']:.2f} s",
                     f"torchvision {e['torchvision_load_s'] + e['torchvision_epoch_s']:.2f} s",
                     f"{e['load_plus_epoch_ratio']:.1f}x faster", "-", "n/a"])
        v = d["vae_epoch"]
        rows.append([f"1b. VAE epoch, labhelpers batches vs pre-sliced ({v['n_images']:,} images)",
                     f"train_vae {v['labhelpers_epoch_s']:.2f} s", f"pre-sliced {v['presliced_epoch_s']:.2f} s",
                     f"{v['ratio']:.2f}x", f"<= {TARGETS['vae_data_overhead']:g}x",
                     _status(v["ratio"] <= TARGETS["vae_data_overhead"])])
    r = results.get("vae")
    if r:
        rows.append([f"2. VAE s/epoch, train+test ({r['n_train']:,} train, {r['epochs']} epochs)",
                     f"course {r['course_s_per_epoch']:.2f} s", f"pytorch/examples {r['reference_s_per_epoch']:.2f} s",
                     f"{r['speedup']:.2f}x faster", f">= {TARGETS['vae_speedup']:g}x",
                     _status(r["speedup"] >= TARGETS["vae_speedup"])])
        rows.append([f"2. VAE test loss per image ({r['n_test']:,} test images, nats)",
                     f"course {r['course_test_loss']:.2f}", f"pytorch/examples {r['reference_test_loss']:.2f}",
                     f"{100 * r['loss_rel_diff']:+.2f}%", f"<= +{100 * r['loss_tolerance']:g}%",
                     _status(r["equal_or_better_loss"])])
    for b in results.get("budgets", []):
        rows.append([f"3. {b['notebook']} ({b['mode']})" + ("" if b["ran_ok"] else " FAILED TO RUN"),
                     f"{b['wall_s']:.1f} s, {b['peak_rss_mib']:.0f} MiB",
                     f"budget {b['budget_wall_s']:.0f} s, {b['budget_peak_rss_mib']:.0f} MiB",
                     f"{b['wall_s'] / b['budget_wall_s']:.2f} / {b['peak_rss_mib'] / b['budget_peak_rss_mib']:.2f}",
                     "<= 1 / <= 1", _status(b["within_budget"])])
    if results.get("references"):
        rows += reference_models.summary_rows(results["references"])
    return rows


def print_reference_caveats(ref: dict | None) -> None:
    """The caveat line of each part-5 comparison that has one (what differs between its sides), under the table."""
    for line in reference_models.caveat_lines(ref or {}):
        print(f"5. caveat, {line}")


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


MAIN_HEADER = ["benchmark", "measured", "baseline", "ratio", "target", "status"]


def _fmt(v) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def quality_table(rows: list[dict]) -> str:
    if not rows:
        return "(no build/metrics/*.json yet: run the notebooks first)"
    return markdown_table(["notebook", "mode", "headline numbers"],
                          [[q["notebook"], q["mode"], ", ".join(f"{k}={_fmt(v)}" for k, v in q["headline"].items())
                            or "(no numbers)"] for q in rows])


def results_markdown(results: dict, argv: list[str]) -> str:
    m = results["machine"]
    parts = ["# Benchmark results", "",
             "Written by `make bench` (`python bench/run_all.py" + (" " + " ".join(argv) if argv else "") + "`). "
             "Every ratio compares two runs made in the same process on the machine below; see bench/README.md "
             "for what each row measures. Data: Fashion-MNIST, 60,000 train / 10,000 test images (the 60,000-image "
             "set available on the course machines, where full MNIST is not installed; same shape and size as MNIST, "
             "so timings carry over, losses do not).", ""]
    if results.get("caveats"):
        parts += ["**Caveats.** " + " ".join(results["caveats"]), ""]
    parts += ["## Machine", "", markdown_table(["", ""], [[k, str(v)] for k, v in m.items()]), "",
              "## Ratios and budgets", "", markdown_table(MAIN_HEADER, summary_rows(results)), ""]
    d, r = results.get("data"), results.get("vae")
    if d or r:
        parts += ["## Details", ""]
    if d:
        parts += [f"- 1a. all epoch times (s): labhelpers {_times(d['epoch']['all_times_s']['labhelpers_epoch'])}; "
                  f"torchvision {_times(d['epoch']['all_times_s']['torchvision_epoch'])}. Load (best of "
                  f"{d['epoch']['repeats']}): `labhelpers.data.load` {d['epoch']['labhelpers_load_s']:.3f} s "
                  f"(gunzip + checksum of the .gz files), torchvision dataset {d['epoch']['torchvision_load_s']:.3f} s "
                  "(reads the already-decompressed files).",
                  f"- 1b. all epoch times (s): train_vae {_times(d['vae_epoch']['all_times_s']['labhelpers'])}; "
                  f"pre-sliced {_times(d['vae_epoch']['all_times_s']['presliced'])}."]
    if r:
        parts += [f"- 2. set-up (not in s/epoch): torchvision datasets {r['reference_setup_s']:.2f} s, "
                  f"`labhelpers.data.load` train+test {r['course_setup_s']:.2f} s. Same initial weights: "
                  f"{r['same_initial_weights']}.",
                  f"- 2. seconds per epoch (the table shows the best): pytorch/examples "
                  f"{_times(r['reference_history']['epoch_s'], 2)}; course {_times(r['course_history']['epoch_s'], 2)}; "
                  f"ratio of the totals {r['mean_speedup']:.2f}x.",
                  f"- 2. test loss per image by epoch: pytorch/examples {_times(r['reference_history']['test'], 2)}; "
                  f"course {_times(r['course_history']['test'], 2)}.",
                  f"- 2. train loss per image by epoch: pytorch/examples {_times(r['reference_history']['loss'], 2)}; "
                  f"course {_times(r['course_history']['loss'], 2)}."]
    if d or r:
        parts.append("")
    if results.get("notebook_source"):
        parts += ["## Notebooks", ""] + [f"- {mode}: {src}" for mode, src in results["notebook_source"].items()] + [""]
    parts += ["## Quality: headline numbers", "", quality_table(results.get("quality", [])), ""]
    if results.get("references"):
        parts += [references_markdown(results)]
    return "\n".join(parts)


REF_START, REF_END = "<!-- side by side: start -->", "<!-- side by side: end -->"


def references_markdown(results: dict, standalone: bool = False) -> str:
    """Part 5 as a RESULTS.md section between markers (--only-references replaces just this section)."""
    ref = results["references"]
    st = ref["settings"]
    parts = [REF_START, "## 5. Side by side with what a user would pick instead", ""]
    if standalone:
        parts += ["Written by `python bench/run_all.py --only-references" + (" " + " ".join(results["argv"])
                  if results.get("argv") else "") + "` (this section only; the sections above are from the run "
                  "they name). Machine for this section:", "",
                  markdown_table(["", ""], [[k, str(v)] for k, v in results["machine"].items()]), ""]
        if results.get("caveats"):
            parts += ["**Caveats.** " + " ".join(results["caveats"]), ""]
    if not st.get("fm_conditional", True):
        parts += ["**The flow-matching row is unconditional on both sides** (`--ref-unconditional-fm`).", ""]
    parts += [f"Budgets: {', '.join(f'{b:g}' for b in st['budgets_cpu_s'])} seconds of process CPU time per model "
              f"(`time.process_time()`), {st['threads']} torch thread(s); {st['n_train']:,} training and "
              f"{st['n_test']:,} test images (Fashion-MNIST). Image models: {st['n_samples']} samples "
              f"(the 28x28 HF-MNIST row: {st['hf_samples']} on both sides), {st['sample_steps']} network calls each (DDIM, eta = 0, for diffusion; Euler for flow "
              "matching" + (f"; the latent-vs-pixel row: {st['latent_sample_steps']} Euler calls"
                            if "latent_diffusion" in ref.get("comparisons", {}) else "")
              + "), labels 0-9 equally often, no guidance. Other processes on the machine stretch the wall "
              'time (column "CPU s / wall s"), not the budgets. See bench/README.md, part 5.', ""]
    if ref.get("judge"):
        j = ref["judge"]
        parts += [f"Judge (lh.train_classifier on the 14x14 training images, {st['judge_epochs']} epochs): test "
                  f"accuracy {j['accuracy']:.1%}; real test images judged with confidence >= 0.9: "
                  f"{j['real_confident_share']:.1%}; FID floor (real training images vs test, {st['n_samples']} "
                  f"images): {j['fid_floor']:.2f}.", ""]
    parts += [markdown_table(MAIN_HEADER, reference_models.summary_rows(ref)), "",
              markdown_table(reference_models.DETAILS_HEADER, reference_models.details_table(ref)), ""]
    for line in reference_models.caveat_lines(ref):
        parts.append(f"- {line}")
    for c, why in ref.get("skipped", {}).items():
        parts.append(f"- {c}: skipped, {why}")
    parts.append(REF_END)
    return "\n".join(parts) + "\n"


def merge_references(existing: str, section: str) -> str:
    """RESULTS.md with its part-5 section replaced (or appended): the other parts stay as they were."""
    if REF_START in existing and REF_END in existing:
        head, rest = existing.split(REF_START, 1)
        return head + section.rstrip("\n") + rest.split(REF_END, 1)[1]
    return existing.rstrip("\n") + "\n\n" + section


def _busy(m: dict) -> str | None:
    """A caveat when the 1-minute load average exceeded the core count at start or end: other work competed."""
    loads = []
    for key in ("load_average_start", "load_average_end"):
        try:
            loads.append(float(str(m.get(key, "")).split(" / ")[0]))
        except ValueError:
            pass
    cores = m.get("cores") or 1
    if loads and max(loads) > cores:
        return (f"The machine was busy (1-minute load average up to {max(loads):.1f} on {cores} cores): other "
                "processes competed for the CPU, so absolute times are inflated and ratios are noisier than on a "
                "quiet machine.")
    return None


def _times(ts: list[float], digits: int = 3) -> str:
    return ", ".join(f"{t:.{digits}f}" for t in ts)


# ---------------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    nb = ap.add_mutually_exclusive_group()
    nb.add_argument("--from-summary", action="store_true",
                    help="use build/run_summary_{quick,full}.json from a recent `make run` instead of running notebooks")
    nb.add_argument("--skip-notebooks", action="store_true", help="skip part 3 (part 4 reads build/metrics as is)")
    ap.add_argument("--quick-only", action="store_true", help="notebooks in quick mode only")
    ap.add_argument("--notebooks", nargs="+", help="only these notebooks (stems), for development")
    ap.add_argument("--kernel", default="genmodels-course")
    ap.add_argument("--repeats", type=int, default=3, help="repeats of the short timings (best is kept)")
    ap.add_argument("--vae-epochs", type=int, default=3, help="epochs of each VAE loop in part 2")
    ap.add_argument("--vae-n", type=int, default=None, help="train images for the VAE parts (default: all 60,000)")
    ap.add_argument("--skip-data", action="store_true")
    ap.add_argument("--skip-vae", action="store_true")
    ap.add_argument("--results", type=Path, default=ROOT / "bench" / "RESULTS.md")
    ref = ap.add_mutually_exclusive_group()
    ref.add_argument("--skip-references", action="store_true", help="skip part 5 (side by side with the libraries)")
    ref.add_argument("--only-references", action="store_true",
                     help="run part 5 only and replace just its section of RESULTS.md")
    ap.add_argument("--ref-budgets", type=float, nargs="+", default=[60.0, 180.0],
                    help="part 5: training budgets in seconds of process CPU time per model")
    ap.add_argument("--ref-threads", type=int, default=1, help="part 5: torch threads (see bench/README.md)")
    ap.add_argument("--ref-samples", type=int, default=500, help="part 5: samples scored per image model")
    ap.add_argument("--ref-hf-samples", type=int, default=100, help="part 5: samples of the 28x28 HF-MNIST row")
    ap.add_argument("--ref-sample-steps", type=int, default=50, help="part 5: network calls per sample")
    ap.add_argument("--ref-judge-epochs", type=int, default=4, help="part 5: epochs of the judge classifier")
    ap.add_argument("--ref-n-train", type=int, default=None, help="part 5: training images (default: all 60,000)")
    ap.add_argument("--ref-unconditional-fm", action="store_true",
                    help="part 5: the flow-matching row without labels on both sides (a diagnostic)")
    ap.add_argument("--ref-latent-sample-steps", type=int, default=8,
                    help="part 5: Euler calls per sample in the latent-vs-pixel row (lecture 11's 8)")
    ap.add_argument("--ref-comparisons", nargs="+", default=list(reference_models.COMPARISONS),
                    choices=reference_models.COMPARISONS, help="part 5: only these comparisons")
    args = ap.parse_args(argv)
    argv = sys.argv[1:] if argv is None else argv

    results: dict = {"machine": machine()}
    results["caveats"] = []
    if args.only_references:
        return main_references_only(args, argv, results)
    if args.vae_n:
        results["caveats"].append(f"The VAE parts used only {args.vae_n:,} training images (--vae-n).")
    with tempfile.TemporaryDirectory(prefix="bench-tv-") as tmp:
        tv_root = prepare_torchvision_root(Path(tmp)) if not (args.skip_data and args.skip_vae) else None
        if not args.skip_data:
            results["data"] = run_data(tv_root, args.repeats, args.vae_n)
        if not args.skip_vae:
            results["vae"] = run_vae(tv_root, args.vae_epochs, args.vae_n)
    if args.skip_notebooks:
        results["quality"] = notebook_bench.quality_rows()
    else:
        rows, source = run_notebook_part(args)
        results["notebook_source"] = source
        results["budgets"] = [b for mode, rs in rows.items() for b in notebook_bench.budget_rows(rs, mode)]
        results["quality"] = notebook_bench.quality_rows(rows) if rows else notebook_bench.quality_rows()
    if not args.skip_references:
        results["references"] = run_reference_part(args)
    results["machine"]["load_average_end"] = load_average()
    busy = _busy(results["machine"])
    if busy:
        results["caveats"].append(busy)

    print("\n" + markdown_table(MAIN_HEADER, summary_rows(results)))
    print_reference_caveats(results.get("references"))
    print("\nquality (headline numbers):\n" + quality_table(results["quality"]))
    args.results.write_text(results_markdown(results, argv))
    json_path = notebook_bench.BUILD / "bench" / "results.json"
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"\nwrote {args.results.relative_to(ROOT) if args.results.is_relative_to(ROOT) else args.results} "
          f"and {json_path}")
    return 0


def main_references_only(args, argv: list[str], results: dict) -> int:
    results["references"] = run_reference_part(args)
    results["argv"] = [a for a in argv if a != "--only-references"]
    results["machine"]["load_average_end"] = load_average()
    busy = _busy(results["machine"])
    if busy:
        results["caveats"].append(busy)
    print("\n" + markdown_table(MAIN_HEADER, reference_models.summary_rows(results["references"])))
    print_reference_caveats(results["references"])
    existing = args.results.read_text() if args.results.exists() else "# Benchmark results\n"
    args.results.write_text(merge_references(existing, references_markdown(results, standalone=True)))
    json_path = notebook_bench.BUILD / "bench" / "results_references.json"
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"\nwrote part 5 of {args.results} and {json_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
