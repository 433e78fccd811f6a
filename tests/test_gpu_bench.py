"""The GPU benchmarks' own arithmetic and options (the runs themselves are BENCHMARKS.md's business; each
script's --smoke checks its code paths on the CPU)."""
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import gpu_distill  # noqa: E402


def test_seed_recipe_estimate_from_batch_26_rates():
    rows = [{"measure": "intermediate", "batch": 26, "compile": False, "windows_per_s": 1000.0},
            {"measure": "prediction", "batch": 26, "compile": False, "windows_per_s": 2000.0},
            {"measure": "intermediate", "batch": 128, "compile": False, "windows_per_s": 9999.0},
            {"measure": "prediction", "batch": 26, "compile": False, "grouped": True, "windows_per_s": 9999.0},
            {"measure": "teacher_cache", "batch": 256, "compile": False, "windows_per_s": 4000.0}]
    est = gpu_distill.estimate(rows)
    hours = (2.9e6 * 5 * (1 / 1000 + 1 / 2000) + 2.9e6 / 4000) / 3600
    assert abs(est["gpus_1_hours"] - hours) < 0.01 and abs(est["gpus_8_hours"] - hours / 8) < 0.01
    assert gpu_distill.estimate(rows[:2]) is None  # no cache rate: no estimate


def test_compiled_estimate_uses_its_mode_and_the_shipped_configuration():
    rows = [{"measure": "teacher_cache", "batch": 256, "compile": False, "windows_per_s": 4000.0},
            {"measure": "intermediate", "batch": 26, "compile": False, "windows_per_s": 1.0},
            {"measure": "intermediate", "batch": 26, "compile": "reduce-overhead", "note": "losses compiled",
             "windows_per_s": 9999.0},
            {"measure": "intermediate", "batch": 26, "compile": "reduce-overhead", "windows_per_s": 1000.0,
             "graphs_compiled": 4, "graph_breaks": 0, "cudagraph_skips": 0},
            {"measure": "prediction", "batch": 26, "compile": "reduce-overhead", "windows_per_s": 2000.0}]
    hours = (2.9e6 * 5 * (1 / 1000 + 1 / 2000) + 2.9e6 / 4000) / 3600
    assert abs(gpu_distill.estimate(rows, "reduce-overhead")["gpus_1_hours"] - hours) < 0.01
    assert gpu_distill.estimate(rows) is None  # no uncompiled prediction rate
    rows = [{"tflops": None, "peak_share": None, **r} for r in rows]  # as the script records them
    result = {"rows": rows, "device": "d", "torch": "t", "windows": 1, "models": "m", "setup_s": 0}
    table = gpu_distill.table({**result, "estimate": None,
                               "estimate_compiled": {"reduce-overhead": gpu_distill.estimate(rows, "reduce-overhead")},
                               "total_s": 1})
    assert "| intermediate | 26 | reduce-overhead (losses compiled) |" in table
    assert ("| intermediate | 26 | reduce-overhead; compiled in it: graphs 4, graph-break events 0, "
            "without CUDA graphs 0 |") in table
    assert f"With --compile reduce-overhead (batch 26), **estimate**: about {round(hours, 2)} h" in table


def test_profiling_and_compiled_rows_do_not_share_a_process(tmp_path, capsys):
    import pytest

    with pytest.raises(SystemExit):
        gpu_distill.main(["--out", str(tmp_path), "--profile-steps", "5"])  # --rows includes compile by default
    assert "profile in a run without compiled rows" in capsys.readouterr().err


def test_data_copies_keep_rows_and_make_ids_unique(tmp_path):
    doc = json.loads(gpu_distill.make_data(tmp_path, 2).read_text())
    ids = [q["id"] for a in doc["data"] for p in a["paragraphs"] for q in p["qas"]]
    assert len(ids) == len(set(ids)) == 2 * 4719


def test_augment_rank_counts_parse_a_list_and_name_a_bad_one():
    import argparse

    import gpu_augment
    import pytest

    assert gpu_augment.rank_counts("4") == [4] and gpu_augment.rank_counts("4,6") == [4, 6]
    for bad in ("0", "4,x", ""):
        with pytest.raises(argparse.ArgumentTypeError, match=repr(bad)):
            gpu_augment.rank_counts(bad)


def test_augment_table_names_the_masked_lms_attention_and_the_syncs_it_cannot_count():
    """The GPU rows are read to judge issue 9's one-copy-per-pass: a 2D mask's uncounted syncs must show there."""
    import gpu_augment

    run = {"mode": "exact", "workers": 0, "paragraphs": 2, "rows": 40, "augment_s": 1.0, "startup_s": {"total": 2.0},
           "s_per_paragraph": 0.5, "gpu_busy": None}
    lms = [{"attention": "sdpa", "attention_mask": "4d", "uncounted_syncs_at_most": 0,
            "host_transfers_per_pass": 1.0, "device_transfers_per_pass": 1.0},
           {"attention": "eager", "attention_mask": "2d", "uncounted_syncs_at_most": 7}, {}]
    ref = {"paragraphs": 2, "rows": 40, "augment_s": 4.0, "s_per_paragraph": 2.0, "gpu_busy": None}
    lines = gpu_augment.table({"reference": ref, "runs": [{**run, "lm": lm} for lm in lms]}).splitlines()
    assert len({line.count("|") for line in lines}) == 1  # every row has the header's columns
    assert lines[2].endswith("| 1.0, 1.0 | sdpa, 4d |")  # copies per pass to the host, to the device
    assert lines[3].endswith("| eager, 2d (up to 7 syncs not counted) |")
    assert lines[4].endswith("| n/a |")


def test_augment_rank_overlap_measures_busy_where_every_rank_ran():
    """Rank 1 starts 2 s after rank 0 and ends 1 s before the window: the GPU's busy inside the overlap
    (where every rank was feeding it) is the mean of the samples there alone."""
    import gpu_augment

    sampler = gpu_augment.GpuSampler()
    sampler.samples = [(100.0 + t / 10, 30.0 if t < 20 or t > 90 else 80.0) for t in range(101)]  # 10 s
    timing = {"augment_started": 100.0, "augment_ended": 110.0,
              "ranks": [{"rank": 0, "blocks": [0, 3], "started": 100.0, "ended": 110.0},
                        {"rank": 1, "blocks": [1, 2], "started": 102.0, "ended": 109.0}]}
    got = gpu_augment.rank_overlap(timing, sampler)
    assert got["rank_spans"] == [[0, 2, 0.0, 10.0], [1, 2, 2.0, 9.0]]
    assert got["all_ranks_s"] == 7.0 and got["gpu_busy_all_ranks"] == 0.8
    assert sampler.busy(100.0, 110.0) < 0.8 and len(got["gpu_util_series"]) == 101
    # A rank that took no block (fewer blocks than ranks): all ranks never ran together.
    timing["ranks"].append({"rank": 2, "blocks": [], "started": None, "ended": None})
    idle = gpu_augment.rank_overlap(timing, sampler)
    assert idle["rank_spans"][-1] == [2, 0, None, None] and idle["all_ranks_s"] == 0.0
    assert idle["gpu_busy_all_ranks"] is None
    assert gpu_augment.rank_overlap({"augment_started": 0, "augment_ended": 1}, sampler) == {}  # older manifest


def test_grouped_warm_up_meets_every_length_the_measured_steps_meet():
    """The compiled grouped rows' warm-up: the fewest first batches of epoch 0 that hold every (size, length) of the
    warm-up and the measured steps together, the lengths as distill-train's collate cuts them (``trim_padding``)."""
    from types import SimpleNamespace

    import datasets
    import numpy as np
    import torch

    from augment.distill.data import epoch_batches, trim_padding

    lengths = np.random.default_rng(0).integers(40, 385, size=300)
    masks = [[1] * n + [0] * (384 - n) for n in lengths]
    recipe = SimpleNamespace(features=datasets.Dataset.from_dict({"attention_mask": masks}),
                             acc=SimpleNamespace(device=SimpleNamespace(type="cuda")))
    args = SimpleNamespace(pad_to_multiple_of=None, compile="reduce-overhead", group_by_length=True, max_length=384,
                           seed=42)
    warm = gpu_distill.steps_to_every_length(recipe, args, 7, 10)
    shapes = [tuple(trim_padding({"attention_mask": torch.tensor([masks[i] for i in b])}, 64)["attention_mask"].shape)
              for b in epoch_batches(300, 7, 42, 0, lengths=lengths)]
    assert set(shapes[:warm]) == set(shapes[:warm + 10]) and shapes[warm - 1] not in shapes[:warm - 1]
    assert 10 < warm < len(shapes) - 10 and len(set(shapes[:warm])) > 2  # not trivial: a later length moved it on


def test_grouped_compiled_estimate_uses_the_measured_grouped_rows():
    """The compile-grouped rows as the benchmark records them (steady state from a later step, no note) make the
    grouped estimate; uncompiled grouped rows and rows with a note (another variant) do not."""
    rows = [{"measure": "teacher_cache", "batch": 256, "compile": False, "windows_per_s": 4000.0},
            {"measure": "intermediate", "batch": 26, "compile": "reduce-overhead", "windows_per_s": 1.0},
            {"measure": "prediction", "batch": 26, "compile": "reduce-overhead", "windows_per_s": 1.0}]
    for measure, rate in (("intermediate", 1000.0), ("prediction", 2000.0)):
        rows += [{"measure": measure, "batch": 26, "compile": False, "grouped": True, "windows_per_s": 9.0},
                 {"measure": measure, "batch": 26, "compile": "reduce-overhead", "grouped": True,
                  "note": "attention loss factored", "windows_per_s": 9.0},
                 {"measure": measure, "batch": 26, "compile": "reduce-overhead", "grouped": True, "steady_from_step": 40,
                  "windows_per_s": rate}]
    hours = (2.9e6 * 5 * (1 / 1000 + 1 / 2000) + 2.9e6 / 4000) / 3600
    assert abs(gpu_distill.estimate(rows, "reduce-overhead", grouped=True)["gpus_1_hours"] - hours) < 0.01
    assert gpu_distill.estimate(rows, "reduce-overhead")["gpus_1_hours"] > 10 * hours  # the random-batch rows
    table = gpu_distill.table({"rows": [{"tflops": None, "peak_share": None, **r} for r in rows], "device": "d",
                               "torch": "t", "windows": 1, "models": "m", "setup_s": 0, "total_s": 1})
    assert "| intermediate | 26 | reduce-overhead (steady from step 40) | yes | 1,000 |" in table


def test_augment_reference_paragraphs_stand_for_the_runs_paragraphs(tokenizer):
    """The speed-up divides the reference's seconds per paragraph by a run's: both must stand for the same
    paragraphs. The subset's first 40 cost the reference 1.7 times the subset's mean (every speed-up overstated
    by up to that); the default sample, at quantiles of the reference's work, is within 5% of it."""
    import gpu_augment

    assert gpu_augment.reference_sample([5, 1, 4, 2, 3, 0], 3) == [0, 1, 4]  # works 5, 1, 3: quantiles 5/6, 1/6, 3/6
    assert gpu_augment.reference_sample([3, 1], 5) == [0, 1]
    paras = gpu_augment.subset_paragraphs(None)
    work = gpu_augment.reference_work(tokenizer, paras)
    mean = sum(work) / len(work)
    assert sum(work[:40]) / 40 / mean > 1.5
    picked = gpu_augment.reference_sample(work, 40)
    assert len(set(picked)) == 40 and abs(sum(work[i] for i in picked) / 40 / mean - 1) < 0.05


def test_gpu_all_keeps_the_other_scripts_results_and_fails_when_one_did(tmp_path):
    """gpu_all.sh with stand-in scripts: the augmentation one hangs past its limit (with a child process, as
    augment-squad's would be), the distillation one writes its table. The other's table and both logs are kept,
    the hung one and its child are stopped before the next starts, an older call's table in OUT is not shown as
    this one's, and the exit code says that one failed."""
    import os
    import shutil
    import subprocess

    repo = tmp_path / "repo"
    (repo / "benchmarks").mkdir(parents=True)
    shutil.copy(Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_all.sh", repo / "benchmarks")
    out_arg = "import sys; out = sys.argv[sys.argv.index('--out') + 1]\n"
    (repo / "benchmarks" / "gpu_augment.py").write_text(
        out_arg + "import os, subprocess, time\nos.makedirs(out)\n"
        f"child = subprocess.Popen(['sleep', '300'])\nopen({str(tmp_path / 'child')!r}, 'w').write(str(child.pid))\n"
        "print('augmenting', flush=True)\ntime.sleep(300)\n")
    (repo / "benchmarks" / "gpu_distill.py").write_text(
        out_arg + "import os\nos.makedirs(out)\nopen(os.path.join(out, 'results.json'), 'w').write('{}')\n"
        "open(os.path.join(out, 'table.md'), 'w').write('| distill table |')\n")
    out = tmp_path / "out"
    out.mkdir()
    (out / "augment-results.md").write_text("| an older call's table |")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.run(["bash", "benchmarks/gpu_all.sh", "VOCAB", str(out), "3", "60"], cwd=repo, env=env,
                          capture_output=True, text=True, timeout=240)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    log = (out / "augment.log").read_text()
    assert "augmenting" in log and "stopped at its limit of 3 s" in log and "gpu_augment.py exit: 124" in log
    assert not (out / "augment-results.md").exists() and "older call" not in proc.stdout
    assert (out / "distill-table.md").read_text() == "| distill table |" and (out / "distill-results.json").exists()
    assert "gpu_distill.py exit: 0" in (out / "distill.log").read_text()
    child = int((tmp_path / "child").read_text())
    stat = Path(f"/proc/{child}/stat")
    assert not stat.exists() or stat.read_text().split()[2] == "Z"  # gone (or a zombie awaiting its reaper)


def test_augment_results_keep_the_reference_when_the_first_run_is_cut(tmp_path, monkeypatch, vocab_dir):
    """A limit that stops the script during its first augment-squad run (gpu_all.sh's timeout) still leaves the
    reference's measurement in results.json: it is written as soon as it is measured."""
    import gpu_augment
    import pytest

    def cut(*args, **kwargs):
        raise SystemExit("stopped")
    monkeypatch.setattr(gpu_augment, "run_cli", cut)
    paras = [[{"id": "q1", "title": "t", "context": "The cat sat on the mat.", "question": "Who?",
               "answers": {"text": ["The cat"], "answer_start": [0]}}]]  # one short paragraph: a fast reference
    monkeypatch.setattr(gpu_augment, "subset_paragraphs", lambda n: paras)
    with pytest.raises(SystemExit):
        gpu_augment.main(["--smoke", "--vocab", vocab_dir, "--out", str(tmp_path)])
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["reference"]["paragraphs"] == 1 and saved["runs"] == []
    assert "| reference (Haystack method" in (tmp_path / "results.md").read_text()
