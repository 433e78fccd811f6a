"""Training windows carry the token type ids that the evaluation windows get, asked of the tokenizer: transformers
5's ALBERT, Funnel and BigBird tokenizers make them only when asked, and distill-train trained such models on
all-0 types (the training windows had none) while evaluating them on question 0, context 1."""
import functools
import json

from augment.distill import data
from pipelines.distill_train import main


def _layout_types(ids: list[int], sep: int) -> list[int]:
    """0 on [CLS] question [SEP], 1 on context [SEP], 0 on padding: what the tokenizer gives a window when asked."""
    first, last = ids.index(sep), len(ids) - 1 - ids[::-1].index(sep)
    return [int(first < t <= last) for t in range(len(ids))]


def test_asking_changes_the_windows_key_only_where_the_tokenizer_would_not_make_them(tokenizer, albert_tokenizer_dir):
    """A BERT tokenizer makes token type ids unasked: its windows, and the caches named by their key, stay."""
    from transformers import AutoTokenizer

    albert = AutoTokenizer.from_pretrained(albert_tokenizer_dir)
    for tok, same in ((tokenizer, True), (albert, False)):
        keys = [data.features_key(["rows.json"], "train", 8, tok, 96, 32, with_token_types=ask)
                for ask in (False, True)]
        assert (keys[0] == keys[1]) is same


def test_both_stages_give_every_model_call_the_token_types_of_a_tokenizer_that_makes_them_when_asked(
        tmp_path, sample_path, albert_tokenizer_pair, monkeypatch, capsys):
    """The teacher-logit cache, the intermediate stage (teacher and student), the prediction stage and the final
    evaluation all read question 0, context 1; before, only the evaluation did. config.json records it, and a
    resume of a run begun before (windows without them) says that the rest trains on the new windows."""
    from datasets import Dataset
    from transformers import AutoTokenizer, BertForQuestionAnswering

    sep = AutoTokenizer.from_pretrained(albert_tokenizer_pair["student"]).sep_token_id
    calls = []

    def recorded(self, *args, _plain=BertForQuestionAnswering.forward, **kwargs):
        types = kwargs.get("token_type_ids")
        calls.append((self.config.hidden_size, kwargs["input_ids"].tolist(), None if types is None else types.tolist()))
        return _plain(self, *args, **kwargs)
    monkeypatch.setattr(BertForQuestionAnswering, "forward",
                        functools.wraps(BertForQuestionAnswering.forward)(recorded))
    out = tmp_path / "o"
    argv = ["--data", str(sample_path), "--limit", "8", "--max-length", "96", "--doc-stride", "32",
            "--batch-size", "4", "--cache-dir", str(tmp_path / "cache"),
            "--teacher", albert_tokenizer_pair["teacher"], "--student", albert_tokenizer_pair["student"],
            "--out", str(out), "--stage", "both",
            "--max-steps", "2", "--log-every", "1", "--eval", str(sample_path), "--eval-limit", "3"]
    assert main(argv) == 0
    assert {width for width, *_ in calls} == {32, 64}  # the student and the teacher
    for width, ids, types in calls:
        assert types is not None, f"a {width}-wide model's call got no token type ids"
        assert types == [_layout_types(row, sep) for row in ids]
    (windows,) = (tmp_path / "cache").glob("features-*.arrow")
    # Named by a key of their own: the type-less windows an earlier tinyaug cached for this data are not reused.
    asked_key = data.features_key([str(sample_path)], "train", 8, AutoTokenizer.from_pretrained(
        albert_tokenizer_pair["student"]), 96, 32, with_token_types=True)
    assert windows.stem == data.features_stem(asked_key)
    feats = Dataset.from_file(str(windows))
    assert "token_type_ids" in feats.column_names
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["stage"] for r in records if "loss" in r] == ["intermediate"] * 2 + ["prediction"] * 2

    config = json.loads((out / "config.json").read_text())
    assert config["asked_token_types"] is True
    del config["asked_token_types"]  # as a run begun before it was recorded, whose windows never asked
    (out / "config.json").write_text(json.dumps(config))
    capsys.readouterr()
    assert main(argv + ["--resume"]) == 0
    warned = [line for line in capsys.readouterr().err.splitlines() if "token type ids" in line]
    assert len(warned) == 1 and warned[0].startswith("distill-train: warning: --resume:")
    assert "began on windows without token type ids, this tinyaug's windows are with them" in warned[0]
    assert json.loads((out / "config.json").read_text())["asked_token_types"] is True  # for the next resume


def test_the_models_that_read_token_types_are_told_by_their_config():
    """Asked before any weights load (distill-train tokenises first): ALBERT reads them; RoBERTa's single type
    and DistilBERT do not, so their windows stay without."""
    from transformers import AlbertConfig, DistilBertConfig, RobertaConfig

    from augment.qa.evaluate import config_input_names

    assert "token_type_ids" in config_input_names(AlbertConfig(num_hidden_layers=1))
    assert "token_type_ids" not in config_input_names(RobertaConfig(num_hidden_layers=1, type_vocab_size=1))
    assert config_input_names(DistilBertConfig(n_layers=1)) == ["input_ids", "attention_mask"]


def test_a_model_that_computes_a_drop_path_schedule_in_its_constructor_is_told_as_from_pretrained_builds_it():
    """Hub model code often computes its drop-path rates with ``torch.linspace(...).item()``; from_pretrained
    builds on the meta device with linspace kept on the CPU, so such a model loads, and distill-train's question
    (asked on the meta device, before the weights) must not be a RuntimeError traceback instead."""
    import torch
    from transformers import AutoModelForQuestionAnswering, BertConfig, BertForQuestionAnswering

    from augment.qa.evaluate import config_input_names

    class DropPathConfig(BertConfig):
        model_type = "tinyaug-test-drop-path-bert"

    class DropPathQA(BertForQuestionAnswering):
        config_class = DropPathConfig

        def __init__(self, config):
            super().__init__(config)
            self.rates = [x.item() for x in torch.linspace(0, 0.1, config.num_hidden_layers)]
            built.append(self.qa_outputs.weight.device.type)

    AutoModelForQuestionAnswering.register(DropPathConfig, DropPathQA, exist_ok=True)
    cfg = DropPathConfig(vocab_size=50, hidden_size=8, num_hidden_layers=2, num_attention_heads=2,
                         intermediate_size=16)
    built = []
    assert "token_type_ids" in config_input_names(cfg)
    assert built == ["meta"]  # no weights made: a large student is asked without its memory and init time


def test_a_model_that_looks_its_token_types_up_in_its_word_embeddings_is_not_asked_for_them(bpe_tokenizer_dir,
                                                                                             sample_rows):
    """GPT-2 and GPT-Neo take ``token_type_ids`` but have no type vocabulary: they add ``wte(type id)``, the
    embedding of token 0 or 1, to every token. Their tokenizers make none, so they were trained without; asked,
    the windows gave every token that embedding, in the evaluation and in distill-train's windows (the teacher's
    logits too)."""
    import torch
    from transformers import AutoTokenizer, GPT2Config, GPT2ForQuestionAnswering

    from augment.distill.pair import windows_ask_token_types
    from augment.qa.evaluate import features_and_logits

    tok = AutoTokenizer.from_pretrained(bpe_tokenizer_dir)
    assert "token_type_ids" not in tok.model_input_names
    cfg = GPT2Config(vocab_size=len(tok), n_embd=16, n_layer=1, n_head=2, n_positions=130,
                     pad_token_id=tok.pad_token_id)
    torch.manual_seed(0)
    model = GPT2ForQuestionAnswering(cfg).eval()
    seen = []
    hook = model.register_forward_pre_hook(lambda _, args, kwargs: seen.append(set(kwargs)), with_kwargs=True)
    try:
        features, _, _ = features_and_logits(model, tok, sample_rows[:2], 64, 16, 8, "cpu")
    finally:
        hook.remove()
    assert "token_type_ids" not in features and seen and all("token_type_ids" not in k for k in seen)

    readers = [("student", "gpt2-student", cfg), ("teacher", "gpt2-teacher", cfg)]
    assert windows_ask_token_types(tok, None, readers, trust_remote_code=False) == (False, [])


def test_only_a_model_with_a_type_vocabulary_of_its_own_is_asked_for_token_types():
    """A model that takes no token type ids is not asked (DistilBERT: its windows and caches stay as they were),
    nor are GPT-2 and GPT-Neo, which look the ids up in their word embeddings."""
    from transformers import AlbertConfig, GPT2Config, GPTNeoConfig

    from augment.qa.evaluate import asks_token_types

    names = ["input_ids", "attention_mask", "token_type_ids"]
    assert asks_token_types(names, AlbertConfig()) and not asks_token_types(names[:2], AlbertConfig())
    assert not asks_token_types(names, GPT2Config()) and not asks_token_types(names, GPTNeoConfig())


def test_distill_train_asks_where_the_student_or_the_teacher_reads_them_and_nothing_else_gives_them(
        tokenizer, bpe_tokenizer_dir):
    """Asked for a student or a teacher that reads them, with a tokenizer that leaves them out. Not asked where
    BERT's tokenizer makes them anyway (config.json would record windows asked, and a resume of a run begun
    before would warn of a change that never happened), nor where the teacher's template gives them (the
    tokenizer's own ids would replace the teacher's question 0 / context 1). A config no QA model is built from
    is one problem naming the model, not a traceback."""
    from transformers import AutoTokenizer, BertConfig, DistilBertConfig, PretrainedConfig

    from augment.distill.pair import windows_ask_token_types

    bpe = AutoTokenizer.from_pretrained(bpe_tokenizer_dir)
    bert = BertConfig(vocab_size=50, hidden_size=8, num_hidden_layers=1, num_attention_heads=2, intermediate_size=16)
    distil = DistilBertConfig(vocab_size=50, dim=8, n_layers=1, n_heads=2, hidden_dim=16)

    def readers(s_cfg, t_cfg):  # (role, name, config) of each model that reads the windows
        return [("student", "org/student", s_cfg)] + ([("teacher", "org/teacher", t_cfg)] if t_cfg is not None else [])

    def asks(tok, s_cfg, t_cfg, teacher_types=None):
        ask, problems = windows_ask_token_types(tok, teacher_types, readers(s_cfg, t_cfg), False)
        assert problems == []
        return ask

    assert asks(bpe, bert, None) and asks(bpe, distil, bert)
    assert not asks(bpe, distil, None) and not asks(bpe, distil, distil)
    assert not asks(tokenizer, bert, bert)
    assert not asks(bpe, distil, bert, teacher_types=object())

    class NoQuestionAnswering(PretrainedConfig):
        model_type = "tinyaug-test-no-qa"

    ask, (problem,) = windows_ask_token_types(bpe, None, readers(NoQuestionAnswering(), None), False)
    assert ask is False
    assert problem.startswith("could not build the student model of 'org/student' from its config: ")
