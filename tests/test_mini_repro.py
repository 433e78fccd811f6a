"""The mini reproduction's data split and table (the runs themselves take ~90 minutes: make mini-repro)."""
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import mini_repro  # noqa: E402


def test_split_is_by_article_and_holds_out_unanswerables(tmp_path):
    train, held = mini_repro.split_subset(tmp_path, smoke=False)
    t = json.loads(train.read_text())["data"]
    h = json.loads(held.read_text())["data"]
    assert len(t) == 8 and len(h) == 2
    assert not {a["title"] for a in t} & {a["title"] for a in h}
    contexts = lambda doc: {p["context"] for a in doc for p in a["paragraphs"]}  # noqa: E731
    assert not contexts(t) & contexts(h)  # no paragraph on both sides
    qs = lambda doc: [q for a in doc for p in a["paragraphs"] for q in p["qas"]]  # noqa: E731
    assert len(qs(t)) + len(qs(h)) == 4719
    assert sum(q["is_impossible"] for q in qs(h)) > 0 and sum(q["is_impossible"] for q in qs(t)) > 0


def test_table_reports_mean_and_spread():
    m = lambda em: {"EM": em, "F1": em + 1, "HasAns_F1": em, "NoAns_acc": 50.0}  # noqa: E731
    runs = {f"seed{s}": {"wall_s": {k: 60.0 * s for k, _ in mini_repro.ROWS} | {"augment": 3.0},
                         "metrics": {k: m(10.0 * s) for k, _ in mini_repro.ROWS}} for s in (1, 2)}
    text = mini_repro.table({"runs": runs, "config": {"multiplier": 1, "seeds": [1, 2]}, "init_wall_s": 4.0})
    row = next(line for line in text.splitlines() if line.startswith("| teacher"))
    assert "15.0 ± 7.1" in row and "16.0 ± 7.1" in row and "50.0 ± 0.0" in row and "1.5 min" in row


def test_always_abstain_floor_is_the_unanswerable_share(tmp_path):
    _, held = mini_repro.split_subset(tmp_path, smoke=False)
    floor = mini_repro.always_abstain(held)
    assert floor["EM"] == floor["F1"] == pytest.approx(100 * 188 / 711)
    assert floor["HasAns_F1"] == 0.0 and floor["NoAns_acc"] == 100.0


def test_teacher_null_mass_splits_by_origin_and_matches_the_softmax(tmp_path, sample_rows, tokenizer,
                                                                      tiny_teacher_path):
    import datasets
    import torch
    from transformers import AutoModelForQuestionAnswering

    from augment.distill import data, teacher_cache

    rows = sample_rows[:5]
    # "Augmented" copies with the same text: the two origins must then give identical statistics.
    both = [{k: r[k] for k in ("id", "title", "context", "question", "answers")} for r in rows]
    both += [{**r, "id": r["id"] + "-aug1"} for r in both]
    feats = data.tokenize(datasets.Dataset.from_list(both), tokenizer, tmp_path, "k1", max_length=96, doc_stride=48)
    teacher = AutoModelForQuestionAnswering.from_pretrained(tiny_teacher_path).eval()
    teacher_cache.build(teacher, feats, tmp_path / "teacher-k1-d.arrow")

    stats = mini_repro.teacher_null_mass(tmp_path, Path(tiny_teacher_path))
    origins = {k.split(", ")[0] for k in stats}
    assert origins == {"original", "augmented"}
    for k, g in stats.items():
        twin = stats[k.replace("original", "augmented") if k.startswith("original") else k.replace("augmented", "original")]
        assert g["windows"] == twin["windows"] and g["mean_p_null"] == pytest.approx(twin["mean_p_null"], abs=1e-6)
    assert sum(g["windows"] for g in stats.values()) == len(feats)

    # Hand computation over every window: softmax over CLS + context, P(null) = p_start(CLS) * p_end(CLS).
    batch = data.collate([data.WindowDataset(feats)[i] for i in range(len(feats))])
    with torch.no_grad():
        out = teacher(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                      token_type_ids=batch["token_type_ids"])
    mask = torch.tensor([m + [0] * (batch["input_ids"].shape[1] - len(m)) for m in feats["context_mask"]]).bool()
    ps = out.start_logits.masked_fill(~mask, -1e9).softmax(-1)[:, 0]  # BERT puts CLS first
    pe = out.end_logits.masked_fill(~mask, -1e9).softmax(-1)[:, 0]
    expected = (ps * pe).mean().item()
    got = sum(g["mean_p_null"] * g["windows"] for g in stats.values()) / len(feats)
    assert expected > 0 and got == pytest.approx(expected, rel=1e-2)  # the cache holds float16 logits


# ----------------------------------------------------------------------------- --smoke, both profiles
ROW_KEYS = [k for k, _ in mini_repro.ROWS]


@pytest.fixture(scope="module")
def offline_inputs(tmp_path_factory, tokenizer, tiny_mlm_path):
    """A 6-layer encoder and a masked LM saved in float16 (as many hub checkpoints are), and a small GloVe
    text file: every model and vector input of the run as a local path."""
    import numpy as np
    import torch
    from transformers import AutoModelForMaskedLM, BertConfig, BertModel

    from augment.glove import load_glove

    root = tmp_path_factory.mktemp("offline")
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=6, num_attention_heads=2,
                     intermediate_size=64)  # 6 layers, as MiniLM: a multiple of both profiles' student layers
    BertModel(cfg).half().save_pretrained(root / "encoder")
    tokenizer.save_pretrained(root / "encoder")
    AutoModelForMaskedLM.from_pretrained(tiny_mlm_path).half().save_pretrained(root / "mlm")
    tokenizer.save_pretrained(root / "mlm")
    kv = load_glove("default", vocab_limit=5_000)
    with open(root / "glove.txt", "w") as f:
        for w in kv.index_to_key:
            f.write(w + " " + " ".join(f"{x:.4f}" for x in np.asarray(kv[w])) + "\n")
    assert json.loads((root / "encoder" / "config.json").read_text())["dtype"] == "float16"
    return root


def smoke(out: Path, *args) -> dict:
    """``mini_repro.py --smoke`` in this process (its imports are paid already); every step still runs as a
    process of its own, forked from the launcher's server, as in a real run."""
    assert mini_repro.main(["--smoke", "--out", str(out), *args]) == 0
    return json.loads((out / "results.json").read_text())


def check_results(res: dict, out: Path, rows: list, with_intermediate: set) -> None:
    import math

    (run,) = res["runs"].values()
    assert list(res["runs"]) == ["seed1"] and set(run["metrics"]) == set(rows)
    for k in rows:  # every row evaluated on the held-out paragraphs, at threshold 0
        m = run["metrics"][k]
        assert all(math.isfinite(m[x]) for x in ("EM", "F1", "HasAns_F1", "NoAns_acc")), (k, m)
        assert run["wall_s"][k] > 0 and "prediction" in run["stage_s"][k]
    assert {k for k in rows if "intermediate" in run["stage_s"][k]} == with_intermediate
    assert run["wall_s"]["augment"] > 0 and res["init_wall_s"] > 0 and res["wall_s"] > 0
    table = (out / "table.md").read_text()
    assert all(label in table for key, label in mini_repro.ROWS if key in rows)
    assert "(answer nothing: the floor)" in table and "| run | intermediate s |" in table
    student = json.loads((out / "seed1" / rows[-1] / "student" / "config.json").read_text())
    assert student["dtype"] == "float32"  # upcast on load, trained and saved as float32


def test_smoke_runs_both_profiles_offline_with_float16_models(tmp_path, offline_inputs):
    """One test for both profiles, so that their steps fork from one server (its imports cost seconds)."""
    cpu_out, tmp_path = tmp_path / "cpu", tmp_path / "gpu"
    res = smoke(cpu_out, "--profile", "cpu", "--encoder", str(offline_inputs / "encoder"))
    rows = [k for k in ROW_KEYS if k not in mini_repro.GPU_ONLY_ROWS]
    assert res["config"]["profile"] == "cpu" and res["config"]["student_layers"] == 2
    check_results(res, cpu_out, rows, {"inter_pred", "inter_pred_aug"})
    assert "GloVe only" in (cpu_out / "table.md").read_text()

    res = smoke(tmp_path, "--profile", "gpu", "--encoder", str(offline_inputs / "encoder"),
                "--mlm", str(offline_inputs / "mlm"), "--glove", str(offline_inputs / "glove.txt"))
    cfg = res["config"]
    assert cfg["profile"] == "gpu" and cfg["student_layers"] == 3 and cfg["group_by_length"] and cfg["multiplier"] == 2
    # inter_pred_aug trains no intermediate stage of its own: it starts from the guide's.
    check_results(res, tmp_path, ROW_KEYS, {"inter_pred", "guide", "inter_pred_kqw"})
    run = res["runs"]["seed1"]
    assert run["wall_s"]["augment_kqw"] > 0
    assert f"masked LM {offline_inputs / 'mlm'} + GloVe" in (tmp_path / "table.md").read_text()
    # The guide's recipe: intermediate on original + augmented, prediction on the original alone.
    guide = json.loads((tmp_path / "seed1" / "guide" / "config.json").read_text())
    assert guide["stage"] == "both" and len(guide["data"]) == 2 and guide["prediction_data"] == guide["data"][:1]
    assert guide["group_by_length"]
    # inter_pred_aug starts its prediction stage from the guide's intermediate student (the same stage).
    ipa = json.loads((tmp_path / "seed1" / "inter_pred_aug" / "config.json").read_text())
    assert ipa["stage"] == "prediction" and ipa["student"].endswith("guide/student-intermediate")
    assert ipa["data"] == guide["data"]
    kqw = json.loads((tmp_path / "seed1" / "inter_pred_kqw" / "config.json").read_text())
    assert kqw["data"][1].endswith("aug-kqw")
    # The masked LM ran (float16 on disk, upcast) and the question words were kept in the kqw data.
    manifests = {p.parent.name: json.loads(p.read_text()) for p in (tmp_path / "seed1").glob("aug*/manifest.json")}
    assert set(manifests) == {"aug", "aug-kqw"}
    assert manifests["aug"]["lm"]["forward_passes"] > 0 and manifests["aug"]["options"]["mlm"].endswith("mlm")
    assert manifests["aug"]["models"]["glove"]["spec"].endswith("glove.txt")
    assert manifests["aug-kqw"]["options"]["keep_question_words"] and not manifests["aug"]["options"]["keep_question_words"]


def test_estimate_counts_the_profiles_windows_and_is_labelled_an_estimate(capsys):
    assert mini_repro.main(["--profile", "gpu", "--estimate"]) == 0
    text = capsys.readouterr().out
    assert "not a measurement" in text and "| inter_pred_kqw |" in text
    est = json.loads(text.strip().splitlines()[-1])
    assert est["windows"] == {"original": 4078, "original_plus_aug": 4078 * 21, "held_out": 734}
    assert est["wall_s_compute_only"] < est["wall_s_overlapped"] < est["wall_s_serial"]


def test_an_empty_out_is_refused_not_taken_for_the_working_directory(tmp_path, monkeypatch):
    """--out "$OUT" with OUT unset wrote the split, the students, results.json and logs/ into the working directory."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as e:
        mini_repro.main(["--smoke", "--out", ""])
    assert str(e.value) == "mini-repro: --out '': an empty path (an unset variable?); name the output directory"
    assert list(tmp_path.iterdir()) == []
