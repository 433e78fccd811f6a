"""distill-train with RoBERTa-family models: byte-level BPE, <s> as the null position, no token type ids.

The recipe must ask the tokenizer and the model for all of this; a BERT-only assumption (a [CLS] id,
token_type_ids in every batch, 'bert' attribute names) fails here.
"""
import json

import pytest
import torch

from pipelines.distill_train import main


def test_both_stages_train_a_roberta_student_from_a_roberta_teacher(tmp_path, sample_path, roberta_pair):
    from transformers import AutoModelForQuestionAnswering

    out = tmp_path / "out"
    argv = ["--data", str(sample_path), "--limit", "10", "--max-length", "96", "--doc-stride", "32",
            "--batch-size", "4", "--cache-dir", str(tmp_path / "cache"), "--teacher", roberta_pair["teacher"],
            "--student", roberta_pair["student"], "--out", str(out), "--stage", "both", "--max-steps", "3",
            "--log-every", "1", "--eval", str(sample_path), "--eval-limit", "6"]
    assert main(argv) == 0

    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    inter = [r for r in records if r.get("stage") == "intermediate" and "loss" in r]
    pred = [r for r in records if r.get("stage") == "prediction" and "loss" in r]
    assert len(inter) == 3 and len(pred) == 3
    assert all(r["hidden"] > 0 and r["attention"] > 0 for r in inter)  # both intermediate losses ran
    assert all(torch.isfinite(torch.tensor(r["kd"])) and r["kd"] > 0 for r in pred)
    assert json.loads((out / "eval.json").read_text())["metrics"]["total"] == 6

    start = AutoModelForQuestionAnswering.from_pretrained(roberta_pair["student"]).state_dict()
    end = AutoModelForQuestionAnswering.from_pretrained(out / "student").state_dict()
    assert type(AutoModelForQuestionAnswering.from_pretrained(out / "student")).__name__ == \
        "RobertaForQuestionAnswering"
    assert any(not torch.equal(start[k], end[k]) for k in start if "encoder.layer.0." in k)
    # Null-labelled windows point at <s>, wherever the tokenizer put it; no token type ids are made up.
    from datasets import Dataset
    from transformers import AutoTokenizer

    cls_id = AutoTokenizer.from_pretrained(roberta_pair["student"]).cls_token_id
    feats = Dataset.from_file(str(next((tmp_path / "cache").glob("features-*.arrow"))))
    assert "token_type_ids" not in feats.column_names
    nulls = [(ids, s) for ids, s, e in zip(feats["input_ids"], feats["start_positions"], feats["end_positions"])
             if s == e and ids[s] == cls_id]
    answered = [s for s in feats["start_positions"] if s != 0]
    assert nulls and answered  # both kinds of window are in the data


@pytest.mark.parametrize("teacher", ["roberta", "none"])
def test_max_length_counts_the_positions_a_roberta_model_can_use(tmp_path, sample_path, roberta_pair, capsys,
                                                                 teacher):
    """130 position embeddings hold 128 tokens (ids start after the padding index): --max-length 129 is one line
    before any weights load, with a teacher or without one (it was an index error in the first forward)."""
    argv = ["--data", str(sample_path), "--limit", "4", "--max-length", "129", "--doc-stride", "32",
            "--student", roberta_pair["student"], "--out", str(tmp_path / "o"), "--cache-dir", str(tmp_path / "c"),
            "--teacher", roberta_pair["teacher"] if teacher == "roberta" else "none"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "--max-length 129 exceeds the student's 128 positions" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "c").exists()  # stopped before the data was tokenised
