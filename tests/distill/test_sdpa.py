"""Fast attention changes no result: SDPA against eager attention, and the intermediate losses on a fixed
batch against the values the code gave before issue 10 (eager attention everywhere, every score kept)."""
import pytest
import torch
from transformers import AutoModelForQuestionAnswering

from augment.distill import IntermediateDistiller, LayerMap, data, use_score_attention
from augment.distill.intermediate import teacher_intermediates

# Recorded on 2026-11-27 with commit d7c8cb7 (before SDPA and mapped-layer-only capture), float32 on CPU:
# tiny teacher and student fixtures, windows 0, 3, 5 and 7 of the first 6 sample examples (length 96,
# stride 48), eval mode, projections initialised after torch.manual_seed(0).
BEFORE = {"loss": 4.009582996368408, "hidden": 4.007868766784668, "attention": 0.0017143185250461102}


@pytest.fixture(scope="module")
def fixed_batch(tmp_path_factory, sample_path, tokenizer):
    examples = data.load_examples([sample_path], limit=6)
    feats = data.tokenize(examples, tokenizer, tmp_path_factory.mktemp("sdpa_feats"), "fixed", max_length=96,
                          doc_stride=48)
    windows = data.WindowDataset(feats)
    batch = data.collate([windows[i] for i in (0, 3, 5, 7)])
    assert (batch["attention_mask"] == 0).any()  # padding inside the batch, so the masks matter
    return batch


def test_intermediate_losses_unchanged_on_a_fixed_batch(fixed_batch, tiny_teacher_path, tiny_student_path):
    teacher = AutoModelForQuestionAnswering.from_pretrained(tiny_teacher_path).eval()
    student = AutoModelForQuestionAnswering.from_pretrained(tiny_student_path).eval()
    use_score_attention(student)
    use_score_attention(teacher)
    torch.manual_seed(0)
    distiller = IntermediateDistiller(student, LayerMap(2, 4), teacher.config.hidden_size).eval()
    t_hidden, t_scores = teacher_intermediates(teacher, fixed_batch)
    with torch.no_grad():
        out = distiller(fixed_batch, t_hidden, t_scores)
    assert {k: v.item() for k, v in out.items()} == pytest.approx(BEFORE, rel=1e-5)
