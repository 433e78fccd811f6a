"""A DistilBERT student from a BERT teacher: the student's tokenizer makes no token type ids, which the teacher
was trained to read (question 0, context 1), and its attention projections are q_lin/k_lin/v_lin."""
import functools
import json

import pytest
import torch

from augment.distill.layer_map import teacher_types
from augment.errors import ConfigError
from augment.qa.features import prepare_train_features
from pipelines.distill_train import main


def batch_of(rows):
    return {k: [r[k] for r in rows] for k in ("id", "question", "context", "answers")}


def test_windows_carry_the_type_ids_the_teachers_tokenizer_gives(sample_rows, tokenizer, vocab_dir):
    from transformers import DistilBertTokenizerFast

    distil = DistilBertTokenizerFast.from_pretrained(vocab_dir)
    template = teacher_types(distil, tokenizer, type("Config", (), {"type_vocab_size": 2})())
    rows = batch_of(sample_rows[:12])
    ours = prepare_train_features(rows, distil, max_length=64, doc_stride=16, token_types=template)
    bert = prepare_train_features(rows, tokenizer, max_length=64, doc_stride=16)
    assert len(ours["input_ids"]) > 12  # several windows per question: the context is cut
    assert ours["input_ids"] == bert["input_ids"] and ours["token_type_ids"] == bert["token_type_ids"]
    assert "token_type_ids" not in prepare_train_features(rows, distil, max_length=64, doc_stride=16)


def test_teacher_types_only_when_the_teacher_reads_what_the_student_lacks(tokenizer, vocab_dir):
    from transformers import DistilBertTokenizerFast

    distil = DistilBertTokenizerFast.from_pretrained(vocab_dir)
    two, one = (type("Config", (), {"type_vocab_size": n})() for n in (2, 1))
    assert teacher_types(tokenizer, tokenizer, two) is None      # BERT student: its own ids
    assert teacher_types(distil, tokenizer, one) is None         # one token type: nothing to give
    assert teacher_types(tokenizer, distil, two) is None         # a DistilBERT teacher reads none
    assert teacher_types(distil, tokenizer, two).token_types
    other = DistilBertTokenizerFast.from_pretrained(vocab_dir, cls_token="[UNK]")  # another pair layout
    with pytest.raises(ConfigError, match="do not lay out a question and context alike"):
        teacher_types(other, tokenizer, two)


def test_both_stages_train_a_distilbert_student_from_a_bert_teacher(tmp_path, sample_path, tiny_teacher_path,
                                                                   distilbert_student_path, monkeypatch):
    """Every teacher call gets type ids with a context part; no student call gets any."""
    from transformers import BertForQuestionAnswering, DistilBertForQuestionAnswering

    seen = {"teacher": [], "student": []}
    for cls, who in ((BertForQuestionAnswering, "teacher"), (DistilBertForQuestionAnswering, "student")):
        def recorded(self, *args, _plain=cls.forward, _who=who, **kwargs):
            types = kwargs.get("token_type_ids")
            seen[_who].append(None if types is None else int(types.max()))
            return _plain(self, *args, **kwargs)
        monkeypatch.setattr(cls, "forward", functools.wraps(cls.forward)(recorded))
    out = tmp_path / "o"
    assert main(["--data", str(sample_path), "--limit", "8", "--max-length", "96", "--doc-stride", "48",
                 "--batch-size", "4", "--cache-dir", str(tmp_path / "cache"), "--teacher", tiny_teacher_path,
                 "--student", distilbert_student_path, "--out", str(out), "--stage", "both", "--max-steps", "2",
                 "--log-every", "1", "--distill-weight", "0.5"]) == 0
    assert seen["teacher"] and set(seen["teacher"]) == {1}
    assert seen["student"] and set(seen["student"]) == {None}
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    inter = [r for r in records if r["stage"] == "intermediate" and "loss" in r]
    pred = [r for r in records if r["stage"] == "prediction" and "loss" in r]
    assert len(inter) == len(pred) == 2
    assert all(r["attention"] > 0 and r["hidden"] > 0 for r in inter)  # DistilBERT's scores were captured
    assert all(r["kd"] > 0 and r["ce"] > 0 for r in pred)
    student = DistilBertForQuestionAnswering.from_pretrained(out / "student")
    assert student.config.n_layers == 2
    assert torch.isfinite(student.qa_outputs.weight).all()
