"""augment.qa.evaluate: options checked by name before any window is made."""
import itertools
import types

import numpy as np
import pytest
import torch
from transformers import AutoModelForQuestionAnswering, AutoTokenizer

from augment.errors import NaNLogits
from augment.qa.evaluate import evaluate
from tests.tiny_models import tiny_qa

ROWS = [{"id": "a", "question": "Who wrote it?", "context": "It was written by Ann Lee in 1990.",
         "answers": {"text": ["Ann Lee"], "answer_start": [18]}}]


@pytest.mark.parametrize("option, value, least", [("chunk_size", 0, 1), ("batch_size", 0, 1), ("n_best", 0, 1),
                                                  ("max_answer_length", "30", 1), ("doc_stride", -1, 0)])
def test_options_that_cannot_work_are_refused_by_name(tiny_student_path, option, value, least):
    """chunk_size=0 and batch_size=0 were range()'s "arg 3 must not be zero", doc_stride=-1 the tokenizer's
    OverflowError, a string a TypeError, and n_best=0 no error at all, as augment.qa.answer's were."""
    model = AutoModelForQuestionAnswering.from_pretrained(tiny_student_path)
    tok = AutoTokenizer.from_pretrained(tiny_student_path)
    with pytest.raises(ValueError, match=f"{option} must be at least {least}, got {value!r}"):
        evaluate(model, tok, ROWS, **{"max_length": 64, "doc_stride": 16, option: value})


@pytest.fixture(scope="module")
def student(tiny_student_path):
    return (AutoModelForQuestionAnswering.from_pretrained(tiny_student_path),
            AutoTokenizer.from_pretrained(tiny_student_path))


@pytest.mark.parametrize("kwargs, message", [
    # Each was a TypeError from a comparison or from inside torch.autocast, naming no parameter.
    ({"threshold": "0"}, "threshold must be a number .*, got '0'"),
    ({"threshold": float("nan")}, "threshold must be a number .*, got nan"),
    ({"max_length": None}, "max_length must be at least 1, got None"),
    ({"max_length": True}, r"max_length must be at least 1, got True \(a bool, not an int\)"),
    ({"autocast_dtype": "bfloat16"}, "autocast_dtype must be None .*, torch.bfloat16 or torch.float16, got "
                                     "'bfloat16'"),
    ({"rows": None}, "rows must be an iterable of squad_v2 row dicts .*, got NoneType"),
    ({"rows": ROWS[0]}, r"rows must be an iterable .*, got dict \(one row: wrap it in a list\)"),
])
def test_inputs_of_the_wrong_kind_are_refused_naming_the_parameter(student, kwargs, message):
    model, tok = student
    args = {"rows": ROWS, "max_length": 64, "doc_stride": 16, **kwargs}
    with pytest.raises(ValueError, match=message):
        evaluate(model, tok, **args)


def test_rows_may_be_any_iterable_read_once(student):
    """A generator had no len(); a datasets.Dataset sliced into a dict of columns ("string indices must be
    integers"). Both are read once into the rows they yield, and scored as the list is."""
    import datasets
    import torch

    model, tok = student
    rows = ROWS + [{"id": "b", "question": "When?", "context": "It was 1990.",
                    "answers": {"text": [], "answer_start": []}}]
    want = evaluate(model, tok, rows, max_length=64, doc_stride=16, chunk_size=1)
    assert want["metrics"]["total"] == 2
    for given in ((r for r in rows), datasets.Dataset.from_list(rows)):
        got = evaluate(model, tok, given, max_length=64, doc_stride=16, chunk_size=1)
        assert got["raw_predictions"] == want["raw_predictions"] and got["metrics"] == want["metrics"]
    # torch.float32 is no autocast (torch.autocast would warn and run float32 anyway)
    same = evaluate(model, tok, rows, max_length=64, doc_stride=16, autocast_dtype=torch.float32)
    assert same["null_diffs"] == want["null_diffs"]


def test_a_swapped_model_and_tokenizer_is_named_not_an_attribute_error(tiny_student_path):
    """evaluate(tok, model, rows) failed with "'BertTokenizer' object has no attribute 'training'"."""
    model = AutoModelForQuestionAnswering.from_pretrained(tiny_student_path)
    tok = AutoTokenizer.from_pretrained(tiny_student_path)
    with pytest.raises(ValueError, match=r"^evaluate\(model, tokenizer, rows, \.\.\.\): model is a BertTokenizer\w* "
                                         r"and tokenizer a BertForQuestionAnswering; did you swap them\?$"):
        evaluate(tok, model, ROWS, max_length=64, doc_stride=16)
    with pytest.raises(ValueError, match=r"model must be a torch.nn.Module .*got a str; tokenizer must be a "
                                         r"Hugging Face tokenizer \(AutoTokenizer\), got a NoneType$"):
        evaluate(tiny_student_path, None, ROWS, max_length=64, doc_stride=16)


def test_the_windows_go_where_the_model_is_by_default(tiny_student_path, sample_rows, monkeypatch):
    """The default device was "cpu": a model on a GPU failed on its first batch with a device mismatch. It is now
    the model's own (a model on the meta device stands in for a GPU here); an explicit one is kept."""
    import augment.qa.evaluate as ev

    model = AutoModelForQuestionAnswering.from_pretrained(tiny_student_path).to("meta")
    tok = AutoTokenizer.from_pretrained(tiny_student_path)
    seen = []

    class Stop(Exception):
        pass

    def fake(model, tokenizer, chunk, max_length, doc_stride, batch_size, device, autocast_dtype):
        seen.append(str(device))
        raise Stop  # stop here: only where the windows would go is asked

    monkeypatch.setattr(ev, "features_and_logits", fake)
    for device in (None, "cpu"):
        with pytest.raises(Stop):
            evaluate(model, tok, sample_rows[:2], device=device)
    assert seen == ["meta", "cpu"]


def test_a_left_padding_tokenizer_gives_each_window_the_logits_it_has_alone(student):
    """A tokenizer saved with padding_side="left" left-padded the windows, and BERT numbers positions by index:
    every token of a padded window sat at a position shifted by its padding, and its logits (evaluate's, answer's,
    the teacher cache's) were not those of the same window alone (0.2 apart on a random tiny model)."""
    import copy

    from augment.qa.evaluate import features_and_logits

    model, tok = student
    left = copy.deepcopy(tok)
    left.padding_side = "left"
    features, start, end = features_and_logits(model.eval(), left, ROWS, 64, 16, 8, "cpu")
    real = torch.tensor(features["attention_mask"][0]).bool()                 # (L,)
    assert not real.all()  # the window is padded
    with torch.no_grad():
        alone = model(**{k: torch.tensor(features[k][0])[real][None]
                         for k in ("input_ids", "attention_mask", "token_type_ids")})
    torch.testing.assert_close(torch.from_numpy(start[0])[real], alone.start_logits[0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(torch.from_numpy(end[0])[real], alone.end_logits[0], atol=1e-5, rtol=1e-5)


class NaNAtCLS(torch.nn.Module):
    """Zero logits, but NaN on CLS (position 0) of the windows of contexts that name Ann: the null score of
    those questions is NaN, as a diverged model's or a float16 overflow's."""

    def __init__(self, tokenizer):
        super().__init__()
        self.ann = tokenizer.convert_tokens_to_ids("ann")

    def forward(self, input_ids, attention_mask=None, token_type_ids=None):
        start = torch.zeros(input_ids.shape)                                  # (B, T)
        start[:, 0] = torch.where((input_ids == self.ann).any(dim=1), torch.nan, 0.0)
        return types.SimpleNamespace(start_logits=start, end_logits=torch.zeros(input_ids.shape))


def test_nan_logits_are_an_error_naming_the_question(tokenizer):
    """The NaN null score was dropped by min(): the question abstained with null_diff inf, and a model with NaN
    logits everywhere scored the share of unanswerable questions (50.0 here) with no error."""
    rows = [{"id": "none", "question": "Who wrote it?", "context": "It was written in 1990.",
             "answers": {"text": [], "answer_start": []}}, *ROWS]
    with pytest.raises(NaNLogits, match=r"^the model produced NaN logits for question 'a': EM and F1 from them "
                                        r"would mean nothing; .*float16") as caught:
        evaluate(NaNAtCLS(tokenizer), tokenizer, rows, max_length=64, doc_stride=16)
    assert caught.value.example_ids == ["a"]


def test_nan_logits_in_a_later_chunk_name_its_first_question_and_count_the_questions_evaluated(tokenizer):
    """The evaluation stops at the first chunk with NaN logits: the line names its first such question, counts the
    others, and says how many questions were evaluated by then (every chunk's, not the last one's)."""
    plain = {"question": "Who wrote it?", "context": "It was written in 1990.",
             "answers": {"text": [], "answer_start": []}}
    rows = [{**plain, "id": "x"}, {**plain, "id": "y"}, {**ROWS[0], "id": "c"}, {**ROWS[0], "id": "d"},
            {**plain, "id": "z"}]
    with pytest.raises(NaNLogits, match=r"^the model produced NaN logits for question 'c' \(and 1 more of the first "
                                        r"4\): EM and F1") as caught:
        evaluate(NaNAtCLS(tokenizer), tokenizer, rows, max_length=64, doc_stride=16, chunk_size=2)
    assert caught.value.example_ids == ["c", "d"]


def test_a_left_padding_tokenizers_windows_are_cut_to_the_longest_before_the_model(tokenizer):
    """Padded on the right whatever the tokenizer's padding_side, every window is trimmed as a right-padding
    tokenizer's is: the padding is not computed."""
    import copy

    from augment.qa.evaluate import features_and_logits

    widths = []

    class Zeros(torch.nn.Module):
        def forward(self, input_ids, attention_mask=None, token_type_ids=None):
            widths.append(input_ids.shape[1])
            zeros = torch.zeros(input_ids.shape)                              # (B, T)
            return types.SimpleNamespace(start_logits=zeros, end_logits=zeros)

    left = copy.deepcopy(tokenizer)
    left.padding_side = "left"
    features, _, _ = features_and_logits(Zeros(), left, ROWS, 64, 16, 8, "cpu")
    assert widths == [sum(features["attention_mask"][0])] and widths[0] < 64


def _the_cpu(where) -> bool:
    return (isinstance(where, str) and where == "cpu") or (isinstance(where, torch.device) and where.type == "cpu")


class HostTraffic:
    """What an evaluation asks of the device, counted on the CPU: every read of a tensor's value on the host (the
    aten ops that hand the host a value: a sync on a GPU, where the host waits for every queued kernel) and every
    copy of a tensor to the host (``.cpu()``, ``.to("cpu")``: free on the CPU, a copy that waits on a GPU), each
    marked with whether it happened inside the model's forward pass; and the attention mask of each pass.

    Reads are counted at the dispatcher (a TorchDispatchMode, as benchmarks/cpu_step_ops.py counts ops), so the
    reads inside transformers count as well as ours; copies at the Python API (a TorchFunctionMode), since copying
    a CPU tensor to the CPU dispatches nothing. Copies are the calls of ``.cpu()``, ``.tolist()`` and ``.to()`` with
    the CPU as its device (``"to"``: what :func:`augment.transfers.to_host` calls; on the CPU a move to the model's
    own device would count too, and the evaluation makes none there)."""

    READS = ("_local_scalar_dense", "is_nonzero", "item", "equal", "allclose")

    def __init__(self, model):
        from torch.overrides import TorchFunctionMode
        from torch.utils._python_dispatch import TorchDispatchMode

        self.reads, self.copies, self.masks, self.inside = [], [], [], False
        traffic = self

        class Reads(TorchDispatchMode):
            def __torch_dispatch__(self, func, types, args=(), kwargs=None):
                if func.overloadpacket.__name__ in HostTraffic.READS:
                    traffic.reads.append((func.overloadpacket.__name__, traffic.inside))
                return func(*args, **(kwargs or {}))

        class Copies(TorchFunctionMode):
            def __torch_function__(self, func, types, args=(), kwargs=None):
                target = args[1] if len(args) > 1 else (kwargs or {}).get("device")  # of .to(device)
                if getattr(func, "__name__", "") in ("cpu", "tolist") or (func is torch.Tensor.to and _the_cpu(target)):
                    traffic.copies.append((func.__name__, traffic.inside))
                return func(*args, **(kwargs or {}))

        def before(module, args, kwargs):
            self.masks.append(kwargs.get("attention_mask"))
            self.inside = True

        def after(module, args, kwargs, output):
            self.inside = False

        self.modes = (Copies(), Reads())
        self.hooks = (model.register_forward_pre_hook(before, with_kwargs=True),
                      model.register_forward_hook(after, with_kwargs=True))

    def __enter__(self):
        for mode in self.modes:
            mode.__enter__()
        return self

    def __exit__(self, *exc):
        for mode in reversed(self.modes):
            mode.__exit__(*exc)
        for hook in self.hooks:
            hook.remove()

    def padded_passes(self) -> int:
        """The passes with padding, whatever form their mask had: 2D or 4D boolean (False = padding), none."""
        return sum(m is not None and not m.bool().all() for m in self.masks)


@pytest.mark.parametrize("call", ["evaluate", "answer"])
def test_a_batch_reads_nothing_from_the_device_but_its_logits(student, sample_rows, call):
    """Given the 2D padding mask, transformers' SDPA mask builder asked the device ``mask.all()`` in every pass
    (issue 10): a sync per batch besides the logits' copy, so the host could not queue the next batch while the
    device worked. Whether a batch is padded is known from the host's lists; the model now gets no mask for a batch
    without padding and the 4D one for a padded batch, and a batch's start and end logits come to the host in one
    copy (they were two, each a wait). Counted on a second call: the first tries the 4D mask on the model once
    (augment.qa.evaluate.padding_mask_form), which reads its result."""
    from augment.qa.answer import answer

    model, tok = student
    rows = sample_rows[:6]

    def run():
        if call == "evaluate":
            return evaluate(model, tok, rows, max_length=64, doc_stride=16, batch_size=4)
        return answer(model, tok, [r["question"] for r in rows], [r["context"] for r in rows], max_length=64,
                      doc_stride=16, batch_size=4)

    run()
    with HostTraffic(model) as traffic:
        run()
    passes = len(traffic.masks)
    assert passes >= 4 and 2 <= traffic.padded_passes() < passes  # several batches, some padded, some not
    assert [op for op, inside in traffic.reads if inside] == [], "transformers read the mask on the host"
    assert traffic.reads == []
    assert [inside for _, inside in traffic.copies] == [False] * passes  # the logits, once per batch


class Timeline:
    """The order of what an evaluation asks of the device, recorded on the CPU: ``forward`` as each pass starts,
    ``read`` when the host reads a tensor's values (``.numpy()``), ``copy`` for each copy to the host (``.cpu()``,
    ``.to`` the CPU; with its ``non_blocking``) outside the forward pass (RoBERTa's moves its position ids to its
    own device, the CPU here), and, for code given the device "cuda" (posing as CUDA: everything runs on the CPU),
    ``pin`` and ``to_device`` (with its ``non_blocking``) for copies to the device and ``record``/``synchronize``
    of the CUDA events (:attr:`Event` stands for ``torch.cuda.Event``), numbered as they were made."""

    def __init__(self, model):
        from torch.overrides import TorchFunctionMode

        self.events, self.inside = [], False
        made, timeline = itertools.count(), self

        class Event:  # nothing is queued on the CPU, so nothing to wait for
            def __init__(self):
                self.number = next(made)

            def record(self):
                timeline.events.append(("record", self.number))

            def synchronize(self):
                timeline.events.append(("synchronize", self.number))

        def cuda(where) -> bool:
            return str(where).startswith("cuda")

        class Mode(TorchFunctionMode):
            def __torch_function__(self, func, types, args=(), kwargs=None):
                kwargs = dict(kwargs or {})
                target = args[1] if len(args) > 1 else kwargs.get("device")  # of .to(device) or .to(device=)
                if func is torch.Tensor.numpy:
                    timeline.events.append(("read",))
                elif func is torch.Tensor.cpu or (func is torch.Tensor.to and _the_cpu(target)):
                    if not timeline.inside:
                        timeline.events.append(("copy", kwargs.get("non_blocking", False)))
                elif func is torch.Tensor.pin_memory:
                    timeline.events.append(("pin",))
                    return args[0]
                elif func is torch.Tensor.to and cuda(target):
                    timeline.events.append(("to_device", kwargs.get("non_blocking", False)))
                if any(map(cuda, (*args[1:], kwargs.get("device")))):  # posing: done on the CPU
                    args = tuple("cpu" if cuda(a) else a for a in args)
                    kwargs = {k: "cpu" if k == "device" and cuda(v) else v for k, v in kwargs.items()}
                return func(*args, **kwargs)

        def before(module, args):
            self.events.append(("forward",))
            self.inside = True

        def after(module, args, output):
            self.inside = False

        self.Event, self.mode = Event, Mode()
        self.hooks = (model.register_forward_pre_hook(before), model.register_forward_hook(after))

    def remove(self) -> None:
        for hook in self.hooks:
            hook.remove()

    def order(self) -> list[str]:
        """The passes and the reads of their logits, in order: F and R."""
        return [{"forward": "F", "read": "R"}[e[0]] for e in self.events if e[0] in ("forward", "read")]

    def in_flight(self) -> int:
        """The most batches' logits copied (or on their way) to the host and not yet read."""
        most = held = 0
        for e in self.events:
            held += {"copy": 1, "read": -1}.get(e[0], 0)
            most = max(most, held)
        return most


@pytest.mark.parametrize("device", ["cpu", "cuda"], ids=["cpu", "posing-as-cuda"])
@pytest.mark.parametrize("which", ["student", "roberta_student"])
def test_the_next_batch_is_queued_before_a_batchs_logits_are_read(request, sample_rows, monkeypatch, which, device):
    """Issue 10: each batch's logits were read on the host (a synchronous .cpu()) before the next batch was queued,
    so on a GPU the host and the device took turns. Batch i+1's pass now starts before batch i's logits are read,
    as the masked LM and the teacher cache do, and no more than two batches' logits are in flight. Posing as CUDA,
    each batch's inputs go to the device once, from pinned memory, without waiting; its logits come back in one
    copy that is not waited for, and the host waits on that batch's own event just before reading them. The
    logits, scores and answers are a CPU run's."""
    import augment.qa.evaluate as ev

    model, tok = request.getfixturevalue(which)
    rows = sample_rows[:6]
    _, want_start, want_end = ev.features_and_logits(model, tok, rows, 64, 16, 4, "cpu")
    want = evaluate(model, tok, rows, max_length=64, doc_stride=16, batch_size=4)
    timeline = Timeline(model)
    monkeypatch.setattr(torch.cuda, "Event", timeline.Event)
    with timeline.mode:
        ev.features_and_logits(model, tok, rows, 64, 16, 4, device)  # once: the 4D-mask check of a new device
        timeline.events.clear()
        _, start, end = ev.features_and_logits(model, tok, rows, 64, 16, 4, device)
        events = list(timeline.events)
        result = evaluate(model, tok, rows, max_length=64, doc_stride=16, batch_size=4, device=device)
    timeline.remove()
    timeline.events = events
    passes = timeline.order().count("F")
    assert passes >= 4
    assert timeline.order() == ["F"] + ["F", "R"] * (passes - 1) + ["R"]
    assert timeline.in_flight() == 2
    if device == "cuda":
        first = next(e[1] for e in events if e[0] == "record")  # the number of this call's first event
        queued = [("pin",), ("to_device", True), ("forward",), ("copy", True)]
        order = queued + [("record", first)]
        for i in range(1, passes):
            order += queued + [("record", first + i), ("synchronize", first + i - 1), ("read",)]
        assert events == order + [("synchronize", first + passes - 1), ("read",)]
    assert np.array_equal(start, want_start) and np.array_equal(end, want_end)
    assert result == want


@pytest.mark.parametrize("which", ["student", "roberta_student"])
def test_the_overlapped_batches_give_the_logits_of_one_batch_at_a_time(request, sample_rows, which):
    """Queueing the next batch before reading one changes no bit of a logit: each batch's logits are those of the
    batch run alone and read at once, as the evaluation did before."""
    import augment.qa.evaluate as ev

    model, tok = request.getfixturevalue(which)
    features, start, end = ev.features_and_logits(model, tok, sample_rows[:6], 64, 16, 4, "cpu")
    names = [k for k in ev.model_input_names(model) if k in features]
    form = ev.padding_mask_form(model, features, names, "cpu")
    assert len(features["input_ids"]) > 8  # several batches
    for lo in range(0, len(features["input_ids"]), 4):
        real = [sum(m) for m in features["attention_mask"][lo:lo + 4]]    # real tokens per window
        batch = {k: torch.tensor([f[:max(real)] for f in features[k][lo:lo + 4]]) for k in names}
        if form is not None:
            batch["attention_mask"] = form(batch["attention_mask"], min(real) < max(real))
        with torch.no_grad():
            out = model(**batch)
        assert np.array_equal(out.start_logits.numpy(), start[lo:lo + 4, :max(real)])
        assert np.array_equal(out.end_logits.numpy(), end[lo:lo + 4, :max(real)])


@pytest.fixture(scope="module")
def roberta_student(roberta_pair):
    return (AutoModelForQuestionAnswering.from_pretrained(roberta_pair["student"]),
            AutoTokenizer.from_pretrained(roberta_pair["student"]))


@pytest.mark.parametrize("which", ["student", "roberta_student"])
def test_the_4d_mask_gives_the_2d_masks_logits_bit_for_bit(request, sample_rows, monkeypatch, which):
    """The masks of the passes changed form (none for a batch without padding, 4D for a padded one), not one bit of
    a logit, nor the scores and answers: the same as with the 2D mask on every pass, as before."""
    import augment.qa.evaluate as ev

    model, tok = request.getfixturevalue(which)
    rows = sample_rows[:6]
    options = {"max_length": 64, "doc_stride": 16, "batch_size": 4}
    _, start, end = ev.features_and_logits(model, tok, rows, 64, 16, 4, "cpu")
    result = evaluate(model, tok, rows, **options)
    assert any(model.__dict__["_tinyaug_takes_4d_mask"].values())  # the 4D mask was taken
    monkeypatch.setattr(ev, "padding_mask_form", lambda *args, **kwargs: None)  # the 2D mask, as before
    _, start_2d, end_2d = ev.features_and_logits(model, tok, rows, 64, 16, 4, "cpu")
    assert np.array_equal(start, start_2d) and np.array_equal(end, end_2d)
    assert evaluate(model, tok, rows, **options) == result


@pytest.mark.parametrize("kind, takes", [("mpnet", True), ("deberta", False), ("modernbert", False),
                                         ("gpt2", False)])
def test_a_model_takes_the_4d_mask_only_where_it_gives_the_2d_masks_logits(tokenizer, sample_rows, monkeypatch,
                                                                           kind, takes):
    """MPNet has no SDPA: its eager attention takes transformers' additive 4D mask, with the same logits. DeBERTa
    also multiplies its embeddings by the 2D mask (a 4D one is a shape error), ModernBERT builds its local attention
    from it (given a 4D mask, its local layers saw the whole window: other logits), and GPT-2 its causal mask (the
    4D padding mask would replace it). They keep it, and their logits are what they were. The 4D mask is tried at
    the windows' length: 8 tokens, within ModernBERT's local window, would not tell."""
    import augment.qa.evaluate as ev

    model, rows = tiny_qa(kind, tokenizer.vocab_size), sample_rows[:4]
    _, start, end = ev.features_and_logits(model, tokenizer, rows, 64, 16, 4, "cpu")
    assert list(model.__dict__["_tinyaug_takes_4d_mask"].values()) == [takes]
    monkeypatch.setattr(ev, "padding_mask_form", lambda *args, **kwargs: None)  # the 2D mask, as before
    _, start_2d, end_2d = ev.features_and_logits(model, tokenizer, rows, 64, 16, 4, "cpu")
    assert np.array_equal(start, start_2d) and np.array_equal(end, end_2d)
