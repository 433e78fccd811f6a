"""Checkpoints saved in float16 load as float32 (transformers 5 would keep their dtype)."""
import pytest
import torch
from transformers import AutoModelForMaskedLM, AutoModelForQuestionAnswering

from augment.weights import load_float32


def test_float16_checkpoint_loads_as_float32_with_the_same_values(tmp_path, tiny_teacher_path):
    half = AutoModelForQuestionAnswering.from_pretrained(tiny_teacher_path).half()
    half.save_pretrained(tmp_path)
    assert next(AutoModelForQuestionAnswering.from_pretrained(tmp_path).parameters()).dtype == torch.float16
    model = load_float32(AutoModelForQuestionAnswering, str(tmp_path))
    assert {p.dtype for p in model.parameters()} == {torch.float32}
    for (name, p), (_, q) in zip(model.named_parameters(), half.named_parameters()):
        assert torch.equal(p, q.float()), name  # upcast exactly, nothing re-initialised


def test_masked_lm_of_the_augmenter_is_upcast(tmp_path, tiny_mlm_path, tokenizer):
    from augment.mlm import MaskedLMCandidates

    AutoModelForMaskedLM.from_pretrained(tiny_mlm_path).half().save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    gen = MaskedLMCandidates.from_pretrained(str(tmp_path), device="cpu")
    assert {p.dtype for p in gen.model.parameters()} == {torch.float32}


def _cut_copy(src, dest, name):
    """A copy of the model folder ``src`` whose weights file ``name`` holds only its first half (a cut copy)."""
    import shutil

    shutil.copytree(src, dest)
    if name == "pytorch_model.bin":
        torch.save(AutoModelForQuestionAnswering.from_pretrained(src).state_dict(), dest / name)
        (dest / "model.safetensors").unlink()
    data = (dest / name).read_bytes()
    (dest / name).write_bytes(data[:len(data) // 2])
    return dest


@pytest.mark.parametrize("name", ["model.safetensors", "pytorch_model.bin"])
def test_cut_weights_file_is_an_oserror_naming_the_model(tmp_path, tiny_student_path, name):
    """safetensors' SafetensorError and torch.load's RuntimeError escaped every command's (OSError, ValueError)."""
    cut = _cut_copy(tiny_student_path, tmp_path / "cut", name)
    with pytest.raises(OSError, match=f"^{cut}: its weights could not be read .*truncated or corrupt"):
        load_float32(AutoModelForQuestionAnswering, str(cut))


def test_squad_eval_names_a_cut_weights_file_in_one_line(tmp_path, tiny_student_path, sample_path, capsys):
    from pipelines import squad_eval

    cut = _cut_copy(tiny_student_path, tmp_path / "cut", "model.safetensors")
    code = squad_eval.main(["--model", str(cut), "--data", str(sample_path), "--limit", "2", "--out",
                            str(tmp_path / "e.json")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and f"squad-eval: error: {cut}: its weights could not be read" in err
