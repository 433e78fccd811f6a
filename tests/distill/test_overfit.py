"""The losses on the real tiny fixture models: finite, decreasing when overfitting a few batches, and the
projections train."""
import pytest
import torch
from transformers import AutoModelForQuestionAnswering

from augment.distill import IntermediateDistiller, LayerMap, PredictionLoss, use_score_attention
from augment.distill.intermediate import teacher_intermediates


@pytest.fixture(scope="module")
def batch(tokenizer, sample_rows):
    rows = sample_rows[:4]
    enc = tokenizer([r["question"] for r in rows], [r["context"] for r in rows], truncation="only_second",
                    max_length=48, padding="longest", return_tensors="pt")
    enc["attention_mask"][0, 40:] = 0  # some padding inside the batch
    # Context tokens are segment 1 (minus the final [SEP]); CLS is the null answer.
    ctx = enc["token_type_ids"].clone() * enc["attention_mask"]
    ctx[:, 0] = 1
    last = enc["attention_mask"].sum(1) - 1
    ctx[torch.arange(4), last] = 0
    enc["context_mask"] = ctx
    enc["start_positions"] = torch.tensor([0, 30, 25, 0])
    enc["end_positions"] = torch.tensor([0, 32, 27, 0])
    return dict(enc)


def load(path):
    torch.manual_seed(0)
    return AutoModelForQuestionAnswering.from_pretrained(path)


def test_intermediate_losses_decrease_and_projections_train(tiny_student_path, tiny_teacher_path, batch):
    student, teacher = load(tiny_student_path), load(tiny_teacher_path).eval()
    use_score_attention(student)
    use_score_attention(teacher)
    distiller = IntermediateDistiller(student, LayerMap(2, 4), teacher.config.hidden_size)
    optimizer = torch.optim.AdamW(distiller.parameters(), lr=3e-3)
    projection_ids = {id(p) for p in distiller.hidden_loss.projections.parameters()}
    assert projection_ids <= {id(p) for g in optimizer.param_groups for p in g["params"]}
    before = [p.detach().clone() for p in distiller.hidden_loss.projections.parameters()]
    t_hidden, t_scores = teacher_intermediates(teacher, batch)
    history = []
    for _ in range(12):
        optimizer.zero_grad()
        out = distiller(batch, t_hidden, t_scores)
        assert all(torch.isfinite(v) for v in out.values())
        out["loss"].backward()
        grads = [p.grad for p in distiller.hidden_loss.projections.parameters()]
        assert all(g is not None and g.abs().sum() > 0 for g in grads)
        optimizer.step()
        history.append({k: v.item() for k, v in out.items()})
    assert history[-1]["hidden"] < 0.7 * history[0]["hidden"]
    assert history[-1]["attention"] < 0.7 * history[0]["attention"]
    after = list(distiller.hidden_loss.projections.parameters())
    assert all(not torch.equal(b, a) for b, a in zip(before, after))


@pytest.mark.parametrize("weight, part", [(1.0, "kd"), (0.0, "ce")])
def test_prediction_loss_decreases(tiny_student_path, tiny_teacher_path, batch, weight, part):
    student, teacher = load(tiny_student_path), load(tiny_teacher_path).eval()
    inputs = {k: batch[k] for k in ("input_ids", "attention_mask", "token_type_ids")}
    with torch.no_grad():
        t = teacher(**inputs)
    # A random teacher is nearly uniform, like the random student; sharpen it so there is something to learn.
    t_start, t_end = 20 * t.start_logits, 20 * t.end_logits
    loss_fn = PredictionLoss(temperature=2.0, distill_weight=weight)
    optimizer = torch.optim.AdamW(student.parameters(), lr=3e-3)
    history = []
    for _ in range(12):
        optimizer.zero_grad()
        s = student(**inputs)
        out = loss_fn(s.start_logits, s.end_logits, t_start, t_end, batch["context_mask"],
                      batch["start_positions"], batch["end_positions"])
        assert all(torch.isfinite(v) for v in out.values())
        out["loss"].backward()
        optimizer.step()
        history.append(out[part].item())
    assert history[-1] < 0.7 * history[0]
