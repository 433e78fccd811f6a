import pytest
import torch
from transformers import AutoModelForQuestionAnswering

from pipelines.init_student import build_student, chosen_layers
from tests import forkrun


def test_layer_choice():
    assert chosen_layers(6, 3, "lower") == [0, 1, 2]
    assert chosen_layers(6, 3, "uniform") == [1, 3, 5]
    assert chosen_layers(6, 2, "uniform") == [2, 5]
    # Halves round up, evenly: round() took them to the even neighbour ([1, 2, 3, 5] and [1, 2, 3, 5, 7, 8, 9, 11]).
    assert chosen_layers(6, 4, "uniform") == [1, 2, 4, 5]
    assert chosen_layers(12, 8, "uniform") == [1, 2, 4, 5, 7, 8, 10, 11]
    assert chosen_layers(4, 3, "uniform") == [0, 2, 3]
    assert chosen_layers(12, 12, "uniform") == list(range(12))
    with pytest.raises(ValueError, match="--layers 7"):
        chosen_layers(6, 7, "lower")


def test_lower_layers_reproduce_the_teachers_first_hidden_states(vocab_dir):
    """From the real pretrained 6-layer MiniLM: the 2-layer student's hidden states are the teacher's."""
    teacher = AutoModelForQuestionAnswering.from_pretrained(vocab_dir).eval()
    student, layers = build_student(teacher, 2, "lower")
    student.eval()
    assert layers == [0, 1] and student.config.num_hidden_layers == 2
    ids = torch.tensor([[101, 7592, 2088, 2003, 2307, 102]])
    with torch.no_grad():
        t = teacher(input_ids=ids, output_hidden_states=True).hidden_states
        s = student(input_ids=ids, output_hidden_states=True)
    assert len(s.hidden_states) == 3
    for k in range(3):
        torch.testing.assert_close(s.hidden_states[k], t[k])
    torch.testing.assert_close(student.qa_outputs.weight, teacher.qa_outputs.weight)


def test_cli_saves_a_loadable_student(tiny_teacher_path, tmp_path, capsys):
    out = tmp_path / "student"
    r = forkrun.run("pipelines.init_student", "--teacher", tiny_teacher_path, "--layers", "2", "--pick", "uniform",
                    "--out", out, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "teacher layers [1, 3]" in r.stdout and "note" not in r.stdout  # a QA teacher: its head is trained
    assert "Loading weights" not in r.stderr and "%|" not in r.stderr  # stderr is no terminal: transformers' bars off
    teacher = AutoModelForQuestionAnswering.from_pretrained(tiny_teacher_path)
    student = AutoModelForQuestionAnswering.from_pretrained(out)
    torch.testing.assert_close(student.bert.encoder.layer[1].output.dense.weight,
                               teacher.bert.encoder.layer[3].output.dense.weight)
    from pipelines.init_student import main  # the error path in-process: a second start-up proves nothing

    assert main(["--teacher", tiny_teacher_path, "--layers", "9", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "--layers 9" in err and "Traceback" not in err


def test_out_that_is_the_teacher_directory_is_refused(tiny_teacher_path, tmp_path, capsys):
    """However it is spelled (trailing slash, a symlink), before anything loads; the teacher stays as it was."""
    import shutil

    from pipelines.init_student import main

    teacher = tmp_path / "teacher"  # a copy: a regression must not overwrite the session's teacher
    shutil.copytree(tiny_teacher_path, teacher)
    (tmp_path / "link").symlink_to(teacher)
    before = {p.name: p.read_bytes() for p in teacher.iterdir()}
    for out in (str(teacher), f"{teacher}/", str(tmp_path / "link"), str(tmp_path / "link" / ".." / "teacher")):
        assert main(["--teacher", str(teacher), "--layers", "1", "--out", out]) == 2
        assert capsys.readouterr().err == (f"init-student: error: --out {out}: it is the --teacher directory, "
                                           "which the student would overwrite; choose another --out\n")
    assert {p.name: p.read_bytes() for p in teacher.iterdir()} == before


def test_out_holding_another_model_is_refused_unless_overwrite(tiny_teacher_path, tmp_path, capsys):
    """Another model's files would be read with the student's (here a shard index naming weights the student
    does not have); without --overwrite nothing is touched, with it nothing of the old model is left."""
    from pipelines.init_student import main

    out = tmp_path / "out"
    out.mkdir()
    (out / "model.safetensors.index.json").write_text('{"weight_map": {}}')
    (out / "merges.txt").write_text("#version: 0.2\n")
    (out / "notes.md").write_text("mine")
    assert main(["--teacher", tiny_teacher_path, "--layers", "1", "--out", str(out)]) == 2
    assert capsys.readouterr().err == (f"init-student: error: --out {out}: it holds a saved model (merges.txt, "
                                       "model.safetensors.index.json); pass --overwrite to replace it, or choose "
                                       "another --out\n")
    assert sorted(p.name for p in out.iterdir()) == ["merges.txt", "model.safetensors.index.json", "notes.md"]
    assert main(["--teacher", tiny_teacher_path, "--layers", "1", "--out", str(out), "--overwrite"]) == 0
    names = {p.name for p in out.iterdir()}
    assert "notes.md" in names and not names & {"merges.txt", "model.safetensors.index.json"}
    assert AutoModelForQuestionAnswering.from_pretrained(out).config.num_hidden_layers == 1


@pytest.fixture(scope="module")
def modernbert_teacher(tmp_path_factory, tokenizer) -> str:
    """A 4-layer 32-wide ModernBertForQuestionAnswering (random weights, real uncased vocabulary): its weights are
    named model.layers.N., and its layers alternate global and 16-token sliding-window attention (layer_types)."""
    from transformers import ModernBertConfig, ModernBertForQuestionAnswering

    torch.manual_seed(8)
    cfg = ModernBertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=4, num_attention_heads=4,
                           intermediate_size=64, max_position_embeddings=128, global_attn_every_n_layers=2,
                           local_attention=16, pad_token_id=tokenizer.pad_token_id, cls_token_id=tokenizer.cls_token_id,
                           sep_token_id=tokenizer.sep_token_id, bos_token_id=tokenizer.cls_token_id,
                           eos_token_id=tokenizer.sep_token_id)
    out = tmp_path_factory.mktemp("modernbert_teacher")
    ModernBertForQuestionAnswering(cfg).eval().save_pretrained(out)
    tokenizer.save_pretrained(out)
    return str(out)


def test_modernbert_teacher_layers_and_their_attention_kinds(modernbert_teacher, tmp_path):
    """ModernBERT names its layers model.layers.N. (init-student matched only encoder.layer.N.: 'layer copy left
    unexpected=[model.layers.2...]', exit 2), and config.layer_types says which layers attend through a sliding
    window: the student's list is that of the layers it takes."""
    teacher = AutoModelForQuestionAnswering.from_pretrained(modernbert_teacher).eval()
    assert teacher.config.layer_types == ["full_attention", "sliding_attention"] * 2
    ids = torch.tensor([[101] + list(range(2000, 2060)) + [102]])  # 62 tokens: past the 16-token window
    for pick, layers in (("lower", [0, 1]), ("uniform", [0, 2, 3])):
        out = tmp_path / pick
        r = forkrun.run("pipelines.init_student", "--teacher", modernbert_teacher, "--layers", str(len(layers)),
                        "--pick", pick, "--out", out, timeout=300)
        assert r.returncode == 0, r.stderr
        student = AutoModelForQuestionAnswering.from_pretrained(out).eval()
        assert student.config.layer_types == [teacher.config.layer_types[t] for t in layers]
        for s, t in enumerate(layers):
            torch.testing.assert_close(student.model.layers[s].mlp.Wo.weight, teacher.model.layers[t].mlp.Wo.weight)
        with torch.no_grad():
            hidden = student(input_ids=ids, output_hidden_states=True).hidden_states
            if pick == "lower":  # the teacher's own first layers, window included (the last state is final-normed)
                expected = teacher(input_ids=ids, output_hidden_states=True).hidden_states
                torch.testing.assert_close(hidden[0], expected[0])
                torch.testing.assert_close(hidden[1], expected[1])
                torch.testing.assert_close(hidden[2], teacher.model.final_norm(expected[2]))


def test_modernbert_layer_above_0_can_become_the_students_first(modernbert_teacher):
    """ModernBERT's layer 0 has no attention norm (nn.Identity: the embeddings end in one) and its other layers do,
    so --pick uniform 4 -> 2 (layers 1 and 3) stopped with 'layer copy left unexpected=[model.layers.0.attn_norm
    .weight]', exit 2. The student's first layer takes the teacher's layer 1 without that norm."""
    teacher = AutoModelForQuestionAnswering.from_pretrained(modernbert_teacher).eval()
    student, layers = build_student(teacher, 2, "uniform")
    assert layers == [1, 3]
    assert isinstance(student.model.layers[0].attn_norm, torch.nn.Identity)
    torch.testing.assert_close(student.model.layers[0].attn.Wqkv.weight, teacher.model.layers[1].attn.Wqkv.weight)
    torch.testing.assert_close(student.model.layers[1].attn_norm.weight, teacher.model.layers[3].attn_norm.weight)


def test_layers_beyond_the_teacher_are_refused_before_its_weights_load(tiny_teacher_path, tmp_path, capsys,
                                                                      monkeypatch):
    """The teacher's depth is in its config: --layers 5 of a 4-layer teacher is one line without loading weights
    (it loaded the whole teacher first, seconds for a large one)."""
    import augment.weights
    from pipelines.init_student import main

    def no_load(*args, **kwargs):
        raise AssertionError("the teacher's weights were loaded")

    monkeypatch.setattr(augment.weights, "load_float32", no_load)
    for layers in ("5", "0"):
        assert main(["--teacher", tiny_teacher_path, "--layers", layers, "--out", str(tmp_path / "s")]) == 2
        assert capsys.readouterr().err == (f"init-student: error: --layers {layers}: use 1..4 (the teacher has 4 "
                                           "layers)\n")
    assert not (tmp_path / "s").exists()


def test_a_teacher_named_with_an_unexpanded_tilde_loads(tiny_teacher_path, tmp_path, monkeypatch):
    """--teacher=~/t reaches the program unexpanded (no shell expands a tilde after '='); transformers took it
    for a hub id."""
    import shutil

    from pipelines.init_student import main

    shutil.copytree(tiny_teacher_path, tmp_path / "t")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert main(["--teacher=~/t", "--layers", "1", "--out", str(tmp_path / "s")]) == 0
    assert (tmp_path / "s" / "config.json").is_file()


def test_a_teacher_without_a_qa_head_is_named_in_a_note(tiny_mlm_path, tmp_path, capsys):
    """A masked LM (or a bare encoder such as bert-base-uncased) as --teacher gives a student whose QA head is
    random; its file holds head weights all the same, so nothing later could tell."""
    from pipelines.init_student import main

    assert main(["--teacher", tiny_mlm_path, "--layers", "1", "--out", str(tmp_path / "s")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("init-student: 1-layer student from teacher layers [0]"), lines
    assert lines[1].startswith(f"init-student: note: --teacher {tiny_mlm_path} had no question-answering head "
                               "weights (qa_outputs.bias and 1 more)"), lines
    assert "prediction stage" in lines[1] and len(lines) == 2


def test_an_albert_teacher_is_said_to_share_its_layer(tokenizer, tmp_path, capsys):
    """ALBERT's 4 layers run one set of weights, which the student keeps whole and runs twice: the line said
    "from teacher layers [1, 3]", a pick that --pick uniform never made."""
    from transformers import AlbertConfig, AlbertForQuestionAnswering

    from pipelines.init_student import main

    torch.manual_seed(0)
    cfg = AlbertConfig(vocab_size=tokenizer.vocab_size, embedding_size=16, hidden_size=32, num_hidden_layers=4,
                       num_attention_heads=2, intermediate_size=64, max_position_embeddings=64)
    AlbertForQuestionAnswering(cfg).save_pretrained(tmp_path / "albert")
    tokenizer.save_pretrained(tmp_path / "albert")
    out = tmp_path / "s"
    assert main(["--teacher", str(tmp_path / "albert"), "--layers", "2", "--pick", "uniform", "--out", str(out)]) == 0
    assert capsys.readouterr().out == (
        "init-student: 2-layer student from the teacher's one shared layer, run 2 times (the 4 layers of "
        "AlbertForQuestionAnswering share one set of weights, kept whole; --pick has no layer to pick) "
        f"-> {out}\n")
    teacher, student = (AutoModelForQuestionAnswering.from_pretrained(p) for p in (tmp_path / "albert", out))
    assert student.config.num_hidden_layers == 2
    torch.testing.assert_close(student.state_dict(), teacher.state_dict())
