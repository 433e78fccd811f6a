"""augment.qa.evaluate and the squad-eval command on the tiny teacher and real SQuAD 2.0 rows."""
import json
import shutil
import subprocess
import sys
import types

import pytest
import torch

from augment.qa.evaluate import evaluate, format_table, model_input_names
from pipelines.squad_eval import main
from tests import forkrun

METRIC_KEYS = {"exact", "f1", "total", "HasAns_exact", "HasAns_f1", "HasAns_total", "NoAns_exact",
               "NoAns_f1", "NoAns_total", "best_exact", "best_exact_thresh", "best_f1", "best_f1_thresh"}


def _cli(*args, cwd):
    """``squad-eval ARGS`` run from ``cwd``, in a process of its own forked from tests/forkrun.py's server."""
    return forkrun.run("pipelines.squad_eval", *args, cwd=cwd, timeout=300)


@pytest.fixture(scope="module")
def teacher(tiny_teacher_path):
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    return (AutoModelForQuestionAnswering.from_pretrained(tiny_teacher_path),
            AutoTokenizer.from_pretrained(tiny_teacher_path))


def test_evaluate_scores_every_question_and_restores_training_mode(teacher, sample_rows):
    model, tok = teacher
    rows = sample_rows[:12]
    model.train()
    result = evaluate(model, tok, rows, max_length=96, doc_stride=32, batch_size=8)
    assert model.training
    metrics = result["metrics"]
    assert METRIC_KEYS <= set(metrics)
    assert metrics["total"] == 12 == metrics["HasAns_total"] + metrics["NoAns_total"]
    assert set(result["predictions"]) == set(result["null_diffs"]) == {r["id"] for r in rows}
    for row in rows:
        raw = result["raw_predictions"][row["id"]]
        assert raw and raw in row["context"]   # sliced from the context, never generated
        final = result["predictions"][row["id"]]
        assert final == ("" if result["null_diffs"][row["id"]] > 0 else raw)


def test_evaluate_without_token_type_ids(teacher, sample_rows):
    # A model whose forward takes no token_type_ids (DistilBERT-, RoBERTa-style) gets none.
    import torch

    model, tok = teacher

    class NoTypes(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = model

        def forward(self, input_ids, attention_mask):
            return self.inner(input_ids=input_ids, attention_mask=attention_mask)

    wrapped = NoTypes()
    assert model_input_names(wrapped) == ["input_ids", "attention_mask"]
    assert model_input_names(model) == ["input_ids", "attention_mask", "token_type_ids"]
    from transformers import RobertaConfig, RobertaForQuestionAnswering

    roberta = RobertaForQuestionAnswering(RobertaConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1,
                                                        num_attention_heads=2, intermediate_size=32,
                                                        type_vocab_size=1))  # as roberta-base
    assert model_input_names(roberta) == ["input_ids", "attention_mask"]   # one token type only
    rows = sample_rows[:4]
    a = evaluate(wrapped, tok, rows, max_length=96, doc_stride=32)
    b = evaluate(model, tok, rows, max_length=96, doc_stride=32)   # token types 0/1 change logits
    assert a["metrics"]["total"] == 4 and a["null_diffs"] != b["null_diffs"]


@pytest.fixture(scope="module")
def albert_path(tmp_path_factory, albert_tokenizer_dir):
    """A tiny AlbertForQuestionAnswering (random weights, two token types) with the ALBERT tokenizer of
    tests/conftest.py, which makes token type ids only when asked."""
    from transformers import AlbertConfig, AlbertForQuestionAnswering, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(albert_tokenizer_dir)
    torch.manual_seed(0)
    model = AlbertForQuestionAnswering(AlbertConfig(vocab_size=len(tok), embedding_size=16, hidden_size=32,
                                                    num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
                                                    pad_token_id=tok.pad_token_id))
    path = tmp_path_factory.mktemp("tiny_albert")
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return str(path)


def test_a_model_with_token_types_gets_them_from_a_tokenizer_that_makes_them_only_when_asked(
        albert_path, sample_rows, sample_path, tmp_path):
    """ALBERT (Funnel, BigBird) QA models take token type ids, but their tokenizers leave them out unless asked:
    answer(), evaluate() and squad-eval failed with KeyError: 'token_type_ids' on the first batch."""
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    from augment.qa.answer import answer

    model, tok = AutoModelForQuestionAnswering.from_pretrained(albert_path), AutoTokenizer.from_pretrained(albert_path)
    assert "token_type_ids" not in tok("who?", "ann sang.")  # what made the windows lack them
    seen = []
    hook = model.register_forward_pre_hook(lambda _, args, kwargs: seen.append(kwargs), with_kwargs=True)
    rows = sample_rows[:3]
    try:
        result = evaluate(model, tok, rows, max_length=64, doc_stride=16)
    finally:
        hook.remove()
    assert set(result["predictions"]) == {r["id"] for r in rows}
    sep = tok.sep_token_id
    for batch in seen:  # the types the model was trained with: 0 on [CLS] question [SEP], 1 on context [SEP]
        for ids, kinds in zip(batch["input_ids"].tolist(), batch["token_type_ids"].tolist()):
            first, last = ids.index(sep), len(ids) - 1 - ids[::-1].index(sep)
            assert kinds == [int(first < t <= last) for t in range(len(ids))]
    got = answer(model, tok, rows[0]["question"], rows[0]["context"], max_length=64, doc_stride=16)
    assert got["answer"] == result["predictions"][rows[0]["id"]]
    assert got["start"] is None or rows[0]["context"][got["start"]:got["end"]] == got["answer"]
    proc = _cli("--model", albert_path, "--data", sample_path, "--limit", 3, "--max-length", 64, "--doc-stride", 16,
                "--out", tmp_path / "eval.json", "--device", "cpu", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "eval.json").read_text())["predictions"] == result["predictions"]


def test_chunking_changes_nothing(teacher, sample_rows):
    model, tok = teacher
    rows = sample_rows[:9]
    whole = evaluate(model, tok, rows, max_length=96, doc_stride=32, batch_size=4)
    chunked = evaluate(model, tok, rows, max_length=96, doc_stride=32, batch_size=4, chunk_size=2)
    assert chunked["raw_predictions"] == whole["raw_predictions"]
    assert chunked["null_diffs"] == pytest.approx(whole["null_diffs"], abs=1e-4)


def test_trimming_right_padding_keeps_the_logits(teacher, sample_rows):
    import numpy as np

    from augment.qa.evaluate import window_logits
    from augment.qa.features import prepare_eval_features

    model, tok = teacher
    cols = {k: [r[k] for r in sample_rows[:3]] for k in ("id", "question", "context")}
    feats = prepare_eval_features(cols, tok, max_length=256, doc_stride=64)
    names = model_input_names(model)
    model.eval()
    full, _ = window_logits(model, feats, names, 8, "cpu", right_padded=False)
    cut, _ = window_logits(model, feats, names, 8, "cpu", right_padded=True)
    real = np.array(feats["attention_mask"], dtype=bool)                  # (F, L)
    assert (~real).any() and np.allclose(full[real], cut[real], atol=1e-5)


def test_evaluate_refuses_rows_it_cannot_score(teacher, sample_rows):
    """The API checks as squad-eval does: a repeated id (its prediction would replace the first's), an empty
    question or a row without answers is an InputError naming it, not a smaller total, a score or a KeyError."""
    from augment.errors import InputError

    model, tok = teacher
    rows = [dict(r) for r in sample_rows[:2]]
    with pytest.raises(InputError, match=f"evaluate: example {rows[0]['id']!r}: duplicate id"):
        evaluate(model, tok, [rows[0], {**rows[1], "id": rows[0]["id"]}], max_length=96, doc_stride=32)
    with pytest.raises(InputError, match=f"evaluate: example {rows[1]['id']!r}: question is empty"):
        evaluate(model, tok, [rows[0], {**rows[1], "question": "  "}], max_length=96, doc_stride=32)
    del rows[1]["answers"]
    with pytest.raises(InputError, match="missing 'answers'"):
        evaluate(model, tok, rows, max_length=96, doc_stride=32)


def test_format_table_lists_the_headline_numbers():
    m = {"exact": 71.9, "f1": 76.4, "total": 10, "HasAns_exact": 60.0, "HasAns_f1": 70.0, "HasAns_total": 5,
         "NoAns_exact": 83.8, "NoAns_f1": 83.8, "NoAns_total": 5, "best_exact": 72.0,
         "best_exact_thresh": -1.5, "best_f1": 77.0, "best_f1_thresh": -0.25}
    table = format_table(m)
    lines = table.splitlines()
    assert lines[0].split() == ["EM", "71.90"] and lines[1].split() == ["F1", "76.40"]
    assert "NoAns accuracy" in table and "83.80" in table and "-0.25" in table
    assert len({line.index(".") for line in lines if "." in line.split()[-1] or "at" in line}) == 1
    # No unanswerable questions: no NoAns score to show (0.00 would read as every one of them missed).
    none = format_table({**m, "NoAns_exact": 0.0, "NoAns_f1": 0.0, "NoAns_total": 0})
    assert [line.split() for line in none.splitlines() if line.startswith("NoAns")] == [["NoAns", "accuracy", "-",
                                                                                         "n=0"]]


def test_cli_writes_eval_json(tiny_teacher_path, sample_path, tmp_path):
    out = tmp_path / "res" / "eval.json"
    proc = _cli("--model", tiny_teacher_path, "--data", sample_path, "--limit", 10, "--max-length", 96,
                "--doc-stride", 32, "--batch-size", 8, "--out", out, "--device", "cpu", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(out.read_text())
    m = report["metrics"]
    assert METRIC_KEYS <= set(m)
    assert m["total"] == 10 == m["HasAns_total"] + m["NoAns_total"]
    assert len(report["predictions"]) == 10 == len(report["null_diffs"])
    assert report["options"]["max_length"] == 96 and report["options"]["model"] == tiny_teacher_path
    # A file has no splits: none read, and none recorded for a rerun to pass back as a refused --split (as
    # distill-train's eval.json records it).
    assert report["options"]["split"] is None
    assert "EM" in proc.stdout and "NoAns accuracy" in proc.stdout
    assert "Loading weights" not in proc.stderr and "%|" not in proc.stderr  # no terminal: no bar of any library


def test_cli_missing_data_file_is_one_line_exit_2(tiny_teacher_path, tmp_path):
    proc = _cli("--model", tiny_teacher_path, "--data", tmp_path / "nope.json", cwd=tmp_path)
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and "nope.json" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "eval.json").exists()


def test_missing_model_dir_and_bad_options_are_reported_together(sample_path, tmp_path, capsys):
    code = main(["--model", str(tmp_path / "no_model"), "--data", str(sample_path),
                 "--doc-stride", "400", "--batch-size", "0", "--out", str(tmp_path / "e.json")])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "no_model" in err and "--doc-stride" in err and "--batch-size" in err


def test_a_bad_option_is_reported_before_torch_transformers_and_datasets_import(sample_path, tmp_path):
    # A fresh interpreter: they took 6 to 7 s to import before the one line that names the missing model.
    probe = ("import sys; from pipelines.squad_eval import main; "
             f"code = main(['--model', {str(tmp_path / 'nope')!r}, '--data', {str(sample_path)!r}]); "
             "print(code, [m for m in ('torch', 'transformers', 'datasets') if m in sys.modules])")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.stdout.split("\n")[0] == "2 []"
    assert done.stderr.endswith("nope: no such model directory\n")


def test_help_explains_every_option_with_defaults(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    text = " ".join(capsys.readouterr().out.split())  # undo argparse line wrapping
    for option in ("--model", "--data", "--split", "--max-length", "--doc-stride", "--batch-size",
                   "--n-best", "--max-answer-length", "--out", "--limit", "--device",
                   "--trust-remote-code"):
        assert option in text
    assert "(default: 384)" in text and "(default: 128)" in text and "(default: validation)" in text


def test_help_names_whose_default_the_null_threshold_0_is(capsys):
    """The official evaluate-v2.0.py's --na-prob-thresh defaults to 1.0 (on probabilities), so 0 is not "the
    official script's default", as the help said: it is the trainers' null_score_diff_threshold default."""
    with pytest.raises(SystemExit):
        main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "official script's default" not in text
    assert "null_score_diff_threshold default of Google's run_squad.py and Hugging Face's run_qa.py" in text


def test_directory_without_a_saved_model_is_rejected(sample_path, tmp_path, capsys):
    code = main(["--model", str(tmp_path), "--data", str(sample_path), "--out", str(tmp_path / "e.json")])
    err = capsys.readouterr().err
    assert code == 2 and f"--model {tmp_path}" in err and "no config.json" in err and len(err.strip().splitlines()) == 1


def test_a_model_without_a_qa_head_is_refused_not_scored_at_random(tiny_mlm_path, sample_path, tmp_path, capsys):
    """--model bert-base-uncased (a masked LM, or a bare encoder) loaded with a random QA head and was scored,
    with only transformers' load report saying so."""
    code = main(["--model", tiny_mlm_path, "--data", str(sample_path), "--limit", "2", "--out", str(tmp_path / "e")])
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert code == 2 and err == (f"squad-eval: error: --model {tiny_mlm_path} has no question-answering head weights "
                                 "(qa_outputs.bias and 1 more), so its answers would be random; evaluate a model "
                                 "trained for question answering (distill-train's OUT/student, a SQuAD 2.0 checkpoint)")
    assert not (tmp_path / "e").exists()


def _eval_args(model, data, out, *more):
    return ["--model", str(model), "--data", str(data), "--out", str(out), "--device", "cpu",
            "--max-length", "64", "--doc-stride", "16", *map(str, more)]


def test_out_directory_gets_both_files_and_a_rerun_overwrites_them(tiny_teacher_path, sample_path, tmp_path,
                                                                   capsys):
    out = tmp_path / "eval"  # as an earlier run left it
    out.mkdir()
    (out / "eval.json").write_text("{}")
    (out / "eval.html").write_text("earlier")
    assert main(_eval_args(tiny_teacher_path, sample_path, out, "--limit", 2)) == 0
    assert json.loads((out / "eval.json").read_text())["metrics"]["total"] == 2
    assert "<html" in (out / "eval.html").read_text() and sorted(p.name for p in out.iterdir()) == [
        "eval.html", "eval.json"]
    capsys.readouterr()
    (tmp_path / "taken" / "eval.html").mkdir(parents=True)  # not our file to replace: refused before loading
    assert main(_eval_args(tiny_teacher_path, sample_path, tmp_path / "taken")) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and f"{tmp_path / 'taken' / 'eval.html'} is a directory" in err


def test_its_own_out_folder_given_as_data_is_named_as_one(tiny_teacher_path, sample_path, tmp_path, capsys):
    """Read as a folder of .json files, its eval.json stopped it with "eval.json: missing key 'data' (expected the
    official SQuAD format ...)", as if the data were broken; and so did that file given alone."""
    out = tmp_path / "eval"
    assert main(_eval_args(tiny_teacher_path, sample_path, out, "--limit", 2)) == 0
    capsys.readouterr()
    assert main(_eval_args(tiny_teacher_path, out, tmp_path / "again")) == 2
    assert capsys.readouterr().err == (
        f"squad-eval: error: {out}: a squad-eval output folder, not data (its eval.json holds an evaluation's "
        f"metrics and predictions); pass the data itself instead, such as the --data it evaluated, {sample_path}\n")
    shutil.copy(out / "eval.json", tmp_path / "report.json")  # the file alone, under any name: told by its content
    assert main(_eval_args(tiny_teacher_path, tmp_path / "report.json", tmp_path / "again")) == 2
    assert capsys.readouterr().err == (
        f"squad-eval: error: {tmp_path / 'report.json'}: an evaluation's report (the eval.json of squad-eval or "
        f"distill-train: its metrics and predictions), not data; pass the data itself instead, such as the data it "
        f"evaluated, {sample_path}\n")


def test_help_names_every_form_data_may_take(capsys):
    """It left out a JSON array of rows and a .json holding JSON lines, which --data reads as well."""
    with pytest.raises(SystemExit):
        main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    for form in ("official SQuAD JSON file", "JSON array of squad_v2 rows", "a .json holding JSON lines",
                 "save_to_disk directory", "directory of .json/.jsonl files", "hub dataset id"):
        assert form in text, form


@pytest.mark.parametrize("change, fragments", [
    ({"question": None}, ["'bad'", "question"]),
    # Scored, an empty question counted whatever the model answered to nothing; a null one was refused.
    ({"question": ""}, ["'bad'", "question is empty"]),
    ({"question": " \t\u00a0"}, ["'bad'", "question is empty"]),
    ({"context": None}, ["'bad'", "context"]),
    ({"answers": {"text": [None], "answer_start": [0]}}, ["'bad'", "answers[0] text", "None"]),
    ({"id": "a"}, ["'a'", "duplicate id"]),  # its prediction would silently replace the first 'a''s
])
def test_bad_record_is_one_line_exit_2_before_the_model_loads(change, fragments, tiny_teacher_path, sample_rows,
                                                               tmp_path, capsys, monkeypatch):
    import pipelines.squad_eval

    def must_not_load(*args):
        raise AssertionError("the model loaded before the records were checked")

    monkeypatch.setattr(pipelines.squad_eval, "load_model", must_not_load)
    rows = [dict(sample_rows[0], id="a"), {**sample_rows[1], "id": "bad", **change}]
    data = tmp_path / "rows.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    code = main(_eval_args(tiny_teacher_path, data, tmp_path / "e.json"))
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert str(data) in err and all(f in err for f in fragments), err


@pytest.mark.parametrize("change, fragments", [
    ({"question": None}, ["example 'bad'", "question"]),
    ({"id": "a"}, ["example 'a'", "duplicate id", "the first is at {a}: item [0]"]),
])
def test_a_bad_record_in_a_folder_names_its_file_and_line(change, fragments, tiny_teacher_path, sample_rows,
                                                          tmp_path, capsys, monkeypatch):
    """The line named the folder and the id only: in a folder of files, or a long JSON-lines file, the record was
    to be searched for. It names the file and the line or item, as augment-squad's rejects do."""
    import pipelines.squad_eval

    monkeypatch.setattr(pipelines.squad_eval, "load_model", lambda *a: pytest.fail("the model loaded"))
    data = tmp_path / "dev"
    data.mkdir()
    (data / "a.json").write_text(json.dumps([dict(sample_rows[0], id="a")]))         # a JSON array of rows
    rows = [dict(sample_rows[k], id=f"b{k}") for k in (1, 2)] + [{**sample_rows[3], "id": "bad", **change}]
    (data / "b.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main(_eval_args(tiny_teacher_path, data, tmp_path / "e.json")) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert f"squad-eval: error: --data {data / 'b.jsonl'}: line 3: " in err, err
    assert all(f.format(a=data / "a.json") in err for f in fragments), err


def test_questions_cut_by_the_stride_are_counted_in_one_line(tiny_teacher_path, sample_path, sample_rows,
                                                             tmp_path, capsys):
    """Windows of 64 tokens with a stride of 50 hold 10 question tokens: the questions cut are counted."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_teacher_path)
    cut = sum(len(tok.tokenize(r["question"])) > 10 for r in sample_rows[:4])
    assert cut
    assert main(["--model", tiny_teacher_path, "--data", str(sample_path), "--limit", "4", "--max-length", "64",
                 "--doc-stride", "50", "--device", "cpu", "--out", str(tmp_path / "e.json")]) == 0
    err = [x for x in capsys.readouterr().err.splitlines() if "warning" in x]
    assert err == [f"squad-eval: warning: {cut} of 4 questions ({cut / 4:.1%}) cut to 10 tokens: windows of "
                   "--max-length 64 with --doc-stride 50 leave no more room for the question; a smaller "
                   "--doc-stride leaves more"]


def test_max_length_past_the_models_positions_is_one_line_exit_2(tokenizer, sample_path, tmp_path, capsys):
    """A model with 64 positions asked for windows of 96 tokens: one line naming both, not an index error from
    the embeddings mid-evaluation."""
    from tests.conftest import _bert, _save

    short = _save(_bert("qa", tokenizer, 0, 32, 2, 2, positions=64), tokenizer, tmp_path / "short")
    capsys.readouterr()  # saving's progress bar
    code = main(["--model", short, "--data", str(sample_path), "--limit", "2", "--max-length", "96",
                 "--doc-stride", "32", "--out", str(tmp_path / "e.json")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1, err
    assert "--max-length 96 exceeds the model's 64 positions" in err


# Rows a byte-level BPE tokenizer splits oddly: accents, emoji (one token per byte), no-break spaces, tabs,
# a decomposed accent, an answer that ends the context, and a question cut inside an emoji.
ODD_ROWS = [
    ("Where did he live?", "He lived in Zürich for years, then in Malmö.", "Malmö."),
    ("What was served?", "The café served crème brûlée\u00a0daily.", "crème brûlée"),
    ("What does she love?", "She loves pizza 🍕🍕 and pasta\twith\tbasil 🌿", "basil 🌿"),
    ("How much?", "The price was 100\u00a0dollars in total,  twice   spaced.", "100\u00a0dollars"),
    ("Which school?", "The e\u0301cole Normale\tis in Paris", "e\u0301cole Normale"),
    ("the " * 70 + "🍕🍕🍕 and which city?", "Trains run from Lyon to Genève.", "Genève"),
]


def test_a_bpe_model_answers_odd_text_with_exact_substrings(roberta_pair, tmp_path):
    """squad-eval with a RoBERTa student on rows a byte-level BPE tokenizer splits oddly: it finishes (the
    question cut inside an emoji made the tokenizer panic, a traceback), and every prediction is the context's own
    characters, never re-spaced or lower-cased."""
    rows = [{"id": f"odd{i}", "title": "t", "question": q, "context": c,
             "answers": {"text": [a], "answer_start": [c.index(a)]}} for i, (q, c, a) in enumerate(ODD_ROWS)]
    rows.append({"id": "none", "title": "t", "question": "Who?", "context": "Nobody is named here.",
                 "answers": {"text": [], "answer_start": []}})
    data = tmp_path / "odd.jsonl"
    data.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    proc = _cli("--model", roberta_pair["student"], "--data", data, "--max-length", 96, "--doc-stride", 16,
                "--max-answer-length", 8, "--device", "cpu", "--out", tmp_path / "eval", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "warning: 1 of 7 questions (14.3%) cut to 75 tokens" in proc.stderr
    report = json.loads((tmp_path / "eval" / "eval.json").read_text(encoding="utf-8"))
    assert report["metrics"]["total"] == 7 and set(report["predictions"]) == {r["id"] for r in rows}
    contexts = {r["id"]: r["context"] for r in rows}
    for qid, text in report["predictions"].items():
        assert text == "" or text in contexts[qid], (qid, text)


class InfiniteQA(torch.nn.Module):
    """Logits set by hand, as a float16 overflow can leave them: start 10 on ``ann``, end 10 on ``lee``; where
    ``ann`` is in the window the CLS start logit is -inf (null score -inf, null-score difference -inf), elsewhere
    CLS scores 5 for the end (null score 5 against a best span of 0: difference 5)."""

    def __init__(self, tokenizer):
        super().__init__()
        self.start_id, self.end_id = tokenizer.convert_tokens_to_ids(["ann", "lee"])

    def forward(self, input_ids, attention_mask=None, token_type_ids=None):
        start = 10.0 * (input_ids == self.start_id).float()                 # (B, T)
        end = 10.0 * (input_ids == self.end_id).float()                     # (B, T)
        named = (input_ids == self.start_id).any(dim=1)                     # (B,)
        start[:, 0] = torch.where(named, -torch.inf, 0.0)
        end[:, 0] = torch.where(named, 0.0, 5.0)
        return types.SimpleNamespace(start_logits=start, end_logits=end)


def test_non_finite_scores_are_written_as_null_with_a_one_line_warning(tiny_teacher_path, tokenizer, tmp_path,
                                                                       monkeypatch, capsys):
    """A non-finite null-score difference made best_f1_thresh non-finite, and squad-eval ended, after the whole
    evaluation, with "Out of range float values are not JSON compliant" and no eval.json. Now the non-finite values
    are null, one line says how many questions had non-finite scores, and the threshold is a number."""
    from pipelines import squad_eval

    rows = [{"id": "has", "title": "t", "context": "It was written by Ann Lee in 1990.", "question": "Who wrote it?",
             "answers": {"text": ["Ann Lee"], "answer_start": [18]}},
            {"id": "none", "title": "t", "context": "It was written in 1990.", "question": "Who wrote it?",
             "answers": {"text": [], "answer_start": []}}]
    data = tmp_path / "rows.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    monkeypatch.setattr(squad_eval, "load_model", lambda *a, **k: (InfiniteQA(tokenizer), tokenizer))
    code = main(["--model", tiny_teacher_path, "--data", str(data), "--max-length", "96", "--doc-stride", "32",
                 "--device", "cpu", "--out", str(tmp_path / "eval.json")])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "squad-eval: 1 of 2 questions had non-finite scores" in err and "Traceback" not in err
    report = json.loads((tmp_path / "eval.json").read_text(), parse_constant=pytest.fail)  # strict: no NaN token
    assert report["null_diffs"] == {"has": None, "none": pytest.approx(5.0)}
    # "has" answers at every threshold, "none" abstains below 5: both right at the reported threshold.
    assert report["metrics"]["best_f1"] == 100.0 and report["metrics"]["best_f1_thresh"] == pytest.approx(4.0)


@pytest.mark.parametrize("name", ["eval.JSON", "Eval.Json"])
def test_out_json_suffix_in_any_case_is_a_file(name, tmp_path):
    """--out X.JSON made a directory X.JSON holding eval.json: the suffix was compared case-sensitively."""
    from pathlib import Path

    from pipelines.squad_eval import out_paths

    stem = name.split(".")[0]
    assert out_paths(str(tmp_path / name)) == (tmp_path / name, tmp_path / f"{stem}.html")
    assert out_paths("runs/eval") == (Path("runs/eval/eval.json"), Path("runs/eval/eval.html"))


def test_out_with_a_trailing_slash_is_a_directory_whatever_its_suffix(tmp_path):
    """--out runs/x.json/ wrote the file runs/x.json: Path() drops the "/" that said a directory."""
    from pipelines.squad_eval import out_paths

    assert out_paths(f"{tmp_path}/x.json/") == (tmp_path / "x.json" / "eval.json", tmp_path / "x.json" / "eval.html")
    assert out_paths(f"{tmp_path}/x.json") == (tmp_path / "x.json", tmp_path / "x.html")


def test_the_pages_command_line_is_quoted_as_a_shell_reads_it(tiny_teacher_path, sample_path, tmp_path):
    """The page's note joined the paths with spaces: a model folder named "my model; x" read as two commands."""
    import html
    import shlex
    import shutil

    model = tmp_path / "my model; x"
    shutil.copytree(tiny_teacher_path, model)
    assert main(_eval_args(model, sample_path, tmp_path / "e", "--limit", 1)) == 0
    shown = html.escape(shlex.join(["squad-eval", "--model", str(model), "--data", str(sample_path)]))
    assert shown in (tmp_path / "e" / "eval.html").read_text()


def test_a_model_named_with_an_unexpanded_tilde_loads(tiny_teacher_path, sample_path, tmp_path, monkeypatch):
    """--model=~/m reaches the program unexpanded (no shell expands a tilde after '='): the option check passed it
    and transformers then took '~/m' for a hub id ("not a valid model identifier")."""
    import shutil

    shutil.copytree(tiny_teacher_path, tmp_path / "m")
    monkeypatch.setenv("HOME", str(tmp_path))
    out = tmp_path / "eval.json"
    assert main(["--model=~/m", *_eval_args(tmp_path / "m", sample_path, out, "--limit", 3)[2:]]) == 0
    assert json.loads(out.read_text())["metrics"]["total"] == 3



@pytest.mark.parametrize("qa, fragments", [
    ({"id": "bad", "question": None, "answers": []}, ["example 'bad'", "question must be a string"]),
    ({"id": "bad", "question": "Q?", "answers": ["Nile"]}, ["example 'bad'", "answers[0]"]),
    ({"id": "bad", "question": "Q?"}, ["example 'bad'", "missing 'answers'"]),
    ({"id": "a", "question": "Q?", "answers": []}, ["example 'a'", "duplicate id",
                                                     "the first is at {data}: data[0].paragraphs[0].qas[0]"]),
    ("not an object", ["expected an object"]),
])
def test_a_bad_record_in_an_official_file_names_its_article_paragraph_and_question(
        qa, fragments, tiny_teacher_path, tmp_path, capsys, monkeypatch):
    """In the nested official format (data/paragraphs/qas) a bad question is named by its path of indices:
    the id alone (or none at all) does not find it in a file of one line."""
    import pipelines.squad_eval

    monkeypatch.setattr(pipelines.squad_eval, "load_model", lambda *a: pytest.fail("the model loaded"))
    good = {"id": "a", "question": "What flows?", "answers": [{"text": "Nile", "answer_start": 4}]}
    data = tmp_path / "dev-v2.0.json"
    data.write_text(json.dumps({"version": "v2.0", "data": [
        {"title": "Nile", "paragraphs": [{"context": "The Nile flows.", "qas": [good]}]},
        {"title": "Rhine", "paragraphs": [{"context": "The Rhine.", "qas": []},
                                          {"context": "The Rhine flows.", "qas": [dict(good, id="b"), qa]}]}]}))
    assert main(_eval_args(tiny_teacher_path, data, tmp_path / "e.json")) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert f"{data}: data[1].paragraphs[1].qas[1]: " in err, err
    assert all(f.format(data=data) in err for f in fragments), err


def test_a_tokenizer_with_ids_past_the_models_embeddings_is_one_line(tmp_path, short_vocab_student_path,
                                                                    sample_path, capsys):
    """A model folder holding another model's tokenizer: an IndexError traceback from the first forward pass."""
    mixed = short_vocab_student_path
    capsys.readouterr()  # the loading bar of a model built before
    code = main(["--model", str(mixed), "--data", str(sample_path), "--limit", "2", "--out", str(tmp_path / "e.json")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err[-2000:]
    assert f"--model {mixed}: the model's tokenizer has 30522 tokens but the model embeds only 1000" in err
