"""benchmarks/gpu_distill.py's own arithmetic (the runs themselves are BENCHMARKS.md's business; the
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


def test_data_copies_keep_rows_and_make_ids_unique(tmp_path):
    doc = json.loads(gpu_distill.make_data(tmp_path, 2).read_text())
    ids = [q["id"] for a in doc["data"] for p in a["paragraphs"] for q in p["qas"]]
    assert len(ids) == len(set(ids)) == 2 * 4719
