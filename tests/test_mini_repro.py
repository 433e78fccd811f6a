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
