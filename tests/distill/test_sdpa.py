"""Fast attention changes no result: SDPA against eager attention, and the intermediate losses on a fixed
batch against the values the code gave before issue 10 (eager attention everywhere, every score kept)."""
import pytest
import torch
from transformers import AutoModelForQuestionAnswering

from augment.distill import IntermediateDistiller, LayerMap, data, use_score_attention
from augment.distill.intermediate import model_inputs, teacher_intermediates
from tests.tiny_models import tiny_qa

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


def intermediate_losses(batch, teacher_path, student_path, attention_form="factored", between=None) -> dict:
    """The intermediate-stage losses of the tiny fixtures on ``batch``, set up as when BEFORE was recorded. With
    ``between``: computed twice, ``between()`` called after the first time."""
    teacher = AutoModelForQuestionAnswering.from_pretrained(teacher_path).eval()
    student = AutoModelForQuestionAnswering.from_pretrained(student_path).eval()
    use_score_attention(student)
    use_score_attention(teacher)
    torch.manual_seed(0)
    # BEFORE was recorded with one projection per layer pair, the only kind there was then.
    distiller = IntermediateDistiller(student, LayerMap(2, 4), teacher.config.hidden_size, "per-layer",
                                      attention_form).eval()
    for run in range(1 if between is None else 2):
        if run:
            between()
        t_hidden, t_scores = teacher_intermediates(teacher, batch)
        with torch.no_grad():
            out = distiller(batch, t_hidden, t_scores)
    return {k: v.item() for k, v in out.items()}


@pytest.mark.parametrize("attention_form", ["factored", "direct"])
def test_intermediate_losses_unchanged_on_a_fixed_batch(fixed_batch, tiny_teacher_path, tiny_student_path,
                                                        attention_form):
    """BEFORE formed every (B, H, T, T) score matrix; both forms of the attention loss still give its values."""
    losses = intermediate_losses(fixed_batch, tiny_teacher_path, tiny_student_path, attention_form)
    assert losses == pytest.approx(BEFORE, rel=1e-5)


def _inputs(batch):
    return {k: batch[k] for k in ("input_ids", "attention_mask", "token_type_ids")}


def test_sdpa_and_eager_give_the_same_logits_and_prediction_loss(fixed_batch, tiny_teacher_path,
                                                                 tiny_student_path):
    from augment.distill import PredictionLoss

    results = {}
    for impl in ("eager", "sdpa"):
        teacher = AutoModelForQuestionAnswering.from_pretrained(tiny_teacher_path, attn_implementation=impl).eval()
        student = AutoModelForQuestionAnswering.from_pretrained(tiny_student_path, attn_implementation=impl).eval()
        with torch.no_grad():
            t, s = teacher(**_inputs(fixed_batch)), student(**_inputs(fixed_batch))
        loss = PredictionLoss(temperature=2.0, distill_weight=0.5)(
            s.start_logits, s.end_logits, 20 * t.start_logits, 20 * t.end_logits, fixed_batch["context_mask"],
            fixed_batch["start_positions"], fixed_batch["end_positions"])
        results[impl] = (s.start_logits, s.end_logits, {k: v.item() for k, v in loss.items()})
    real = fixed_batch["attention_mask"].bool()
    for eager, sdpa in zip(results["eager"][:2], results["sdpa"][:2]):
        torch.testing.assert_close(sdpa[real], eager[real], atol=1e-5, rtol=1e-5)
    assert results["sdpa"][2] == pytest.approx(results["eager"][2], rel=1e-5)


def test_teacher_captures_only_the_mapped_layers(fixed_batch, tiny_teacher_path):
    from augment.distill.attention_capture import attention_modules

    teacher = AutoModelForQuestionAnswering.from_pretrained(tiny_teacher_path).eval()
    use_score_attention(teacher)
    _, every = teacher_intermediates(teacher, fixed_batch)
    _, mapped = teacher_intermediates(teacher, fixed_batch, layers=[1, 3])
    assert sorted(every) == [0, 1, 2, 3] and sorted(mapped) == [1, 3]
    for layer in (1, 3):
        torch.testing.assert_close(mapped[layer], every[layer])
    assert not any(hasattr(m, "_tinyaug_score_sink") for m in attention_modules(teacher))  # nothing left behind


def test_teacher_linears_precast_to_the_autocast_dtype_give_the_same_bits(fixed_batch, tiny_teacher_path):
    """cast_frozen_linears saves autocast's per-step weight casts without changing a bit, and undoes itself."""
    import torch
    from transformers import AutoModelForQuestionAnswering

    from augment.distill import use_score_attention
    from augment.distill.intermediate import cast_frozen_linears, teacher_intermediates

    teacher = AutoModelForQuestionAnswering.from_pretrained(tiny_teacher_path).eval().requires_grad_(False)
    use_score_attention(teacher)
    before = {n: p.clone() for n, p in teacher.named_parameters()}
    with torch.autocast("cpu", torch.bfloat16):
        h1, s1 = teacher_intermediates(teacher, fixed_batch, [1, 3])
        restore = cast_frozen_linears(teacher, torch.bfloat16)
        assert teacher.qa_outputs.weight.dtype == torch.bfloat16
        h2, s2 = teacher_intermediates(teacher, fixed_batch, [1, 3])
    restore()
    assert all(torch.equal(a, b) for a, b in zip(h1, h2))
    assert all(torch.equal(a, b) for k in s1 for a, b in zip(s1[k], s2[k]))  # (Q/√d, K) of each layer
    assert all(torch.equal(p, before[n]) and p.dtype == torch.float32 for n, p in teacher.named_parameters())
    assert cast_frozen_linears(teacher, None)() is None  # no autocast: nothing to do


class _CountAll:
    """Counts ``Tensor.all`` calls: transformers' way of asking whether a 2D mask hides anything (on a GPU,
    a device-to-host sync per forward pass)."""

    def __init__(self, monkeypatch):
        self.calls = 0
        original = torch.Tensor.all

        def counting(t, *args, **kwargs):
            self.calls += 1
            return original(t, *args, **kwargs)
        monkeypatch.setattr(torch.Tensor, "all", counting)


def test_mask_given_in_final_form_changes_no_logit_and_asks_nothing_of_the_device(
        fixed_batch, tiny_student_path, monkeypatch):
    student = AutoModelForQuestionAnswering.from_pretrained(tiny_student_path, attn_implementation="sdpa").eval()
    real = fixed_batch["attention_mask"].bool()
    model_inputs({**fixed_batch, "padded": True}, student)  # the first call tries the 4D mask (reading its result)
    with torch.no_grad():
        want = student(**model_inputs(fixed_batch))  # the 2D mask, as before
        count = _CountAll(monkeypatch)
        got = student(**model_inputs({**fixed_batch, "padded": True}, student))
        assert count.calls == 0
        student(**model_inputs(fixed_batch, student))  # no host-side answer: transformers asks the device
        assert count.calls >= 1
    for a, b in ((want.start_logits, got.start_logits), (want.end_logits, got.end_logits)):
        assert torch.allclose(a[real], b[real], atol=1e-6)
    # A batch without padding gets no mask at all (the fused kernels stay usable): the same logits.
    full = {k: v[:1, : int(fixed_batch["attention_mask"][0].sum())] if v.dim() == 2 else v[:1]
            for k, v in fixed_batch.items()}
    assert bool(full["attention_mask"].all())
    assert model_inputs({**full, "padded": False}, student)["attention_mask"] is None
    with torch.no_grad():
        a = student(**model_inputs(full)).start_logits
        b = student(**model_inputs({**full, "padded": False}, student)).start_logits
    assert torch.allclose(a, b, atol=1e-6)
    # An eager model keeps its 2D mask (its mask builder wants one).
    eager = AutoModelForQuestionAnswering.from_pretrained(tiny_student_path, attn_implementation="eager")
    assert model_inputs({**fixed_batch, "padded": True}, eager)["attention_mask"].dim() == 2


def test_intermediate_losses_unchanged_with_the_final_form_mask(fixed_batch, tiny_teacher_path, tiny_student_path,
                                                               monkeypatch):
    """The first step tries each model's 4D mask (reading the result); every step after it asks the device nothing."""
    counts = []
    losses = intermediate_losses({**fixed_batch, "padded": True}, tiny_teacher_path, tiny_student_path,
                                 between=lambda: counts.append(_CountAll(monkeypatch)))
    assert counts[0].calls == 0
    assert losses == pytest.approx(BEFORE, rel=1e-5)


def _padded_batch(length: int, vocab_size: int) -> dict:
    """Two windows of ``length`` random ids, the second padded after its first 5 tokens, as the loop hands them."""
    ids = torch.randint(1000, vocab_size, (2, length), generator=torch.Generator().manual_seed(length))
    mask = torch.ones(2, length, dtype=torch.long)
    mask[1, 5:] = 0
    return {"input_ids": ids * mask, "attention_mask": mask, "token_type_ids": torch.zeros_like(ids),
            "padded": True}


@pytest.mark.parametrize("kind", ["gpt2", "modernbert"])
def test_a_model_whose_own_code_reads_the_2d_mask_keeps_it_in_training(tokenizer, kind):
    """GPT-2 builds its causal mask from the 2D mask, ModernBERT its local attention (over 16 tokens here): every
    SDPA model was given the 4D padding mask in training and the teacher cache, so a padded batch attended to later
    tokens (GPT-2: logits off by ~0.04) or across the whole window (ModernBERT). The 4D mask is now tried once per
    model, as the evaluation tries it, and these keep the 2D mask: the logits are the 2D mask's, bit for bit. The
    first batch (8 tokens) is within ModernBERT's window, where the two masks agree: the check also goes past the
    window the config declares, so the next, longer batch gets the 2D mask too."""
    model = tiny_qa(kind, tokenizer.vocab_size)
    for length in (8, 64):
        batch = _padded_batch(length, tokenizer.vocab_size)
        real = batch["attention_mask"].bool()
        with torch.no_grad():
            want = model(**model_inputs(batch))  # the 2D mask
            got = model(**model_inputs(batch, model))
        assert torch.equal(got.start_logits[real], want.start_logits[real])
        assert torch.equal(got.end_logits[real], want.end_logits[real])
    assert list(model.__dict__["_tinyaug_takes_4d_mask"].values()) == [False]  # decided once, at the first batch


class _Wrapped(torch.nn.Module):
    """As DDP and accelerate hold the model: in ``.module``."""

    def __init__(self, module):
        super().__init__()
        self.module = module

    def forward(self, **kwargs):
        return self.module(**kwargs)


def test_the_4d_mask_check_runs_once_draws_no_random_numbers_and_leaves_training_mode(fixed_batch, tiny_student_path,
                                                                                      monkeypatch):
    """The check runs in the training loop's first step: a BERT student takes the 4D mask, decided from two passes in
    eval mode without gradients (no dropout draws: the run's random numbers, so its losses and weights, are those
    of a run without the check, and a resumed run's too), its modules' training flags put back as they were (one
    left in eval mode stays so), and the decision kept on the model inside the wrapper: later batches, longer or
    shorter, run no check and ask the device nothing."""
    student = AutoModelForQuestionAnswering.from_pretrained(tiny_student_path, attn_implementation="sdpa").train()
    student.bert.embeddings.eval()
    flags = [m.training for m in student.modules()]
    passes = []
    student.register_forward_pre_hook(lambda *args: passes.append(1))
    wrapped = _Wrapped(student)
    rng = torch.get_rng_state()
    first = model_inputs({**fixed_batch, "padded": True}, wrapped)
    assert torch.equal(torch.get_rng_state(), rng)
    assert [m.training for m in student.modules()] == flags
    assert first["attention_mask"].dim() == 4 and len(passes) == 2
    assert list(student.__dict__["_tinyaug_takes_4d_mask"].values()) == [True]
    count = _CountAll(monkeypatch)
    for length in (96, 40):
        batch = {k: v[:, :length] if v.dim() == 2 else v for k, v in fixed_batch.items()}
        assert model_inputs({**batch, "padded": True}, wrapped)["attention_mask"].shape == (4, 1, length, length)
    assert count.calls == 0 and len(passes) == 2
