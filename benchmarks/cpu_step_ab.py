"""CPU time (one thread) per intermediate step, per prediction step and for the teacher cache of 64 windows,
for the code tree on PYTHONPATH: robust to other jobs on the cores, unlike wall time. Models: those
benchmarks/cpu_distill.py wrote to OUT/models; batch 8, length 384, the subset's first 64 questions.
Works with the code before issue 10 too (it only uses what both have).

    for c in /tmp/before .; do PYTHONPATH=$c OMP_NUM_THREADS=1 python benchmarks/cpu_step_ab.py $c OUT/models; done
"""
import inspect
import sys
import tempfile
import time
from pathlib import Path

import torch
from transformers import AutoModelForQuestionAnswering, AutoTokenizer

from augment.distill import IntermediateDistiller, LayerMap, PredictionLoss, data, teacher_cache, use_score_attention
from augment.distill.intermediate import model_inputs, teacher_intermediates

SUBSET = Path(__file__).resolve().parents[1] / "data" / "squad_v2" / "train-v2.0-subset.json"


def cpu_seconds(fn, batches) -> float:
    t0 = time.process_time()
    for b in batches:
        fn(b)
    return (time.process_time() - t0) / len(batches)


def main(label: str, models: str) -> None:
    torch.set_num_threads(1)
    tok = AutoTokenizer.from_pretrained(f"{models}/student")
    teacher = AutoModelForQuestionAnswering.from_pretrained(f"{models}/teacher").eval()
    student = AutoModelForQuestionAnswering.from_pretrained(f"{models}/student")
    feats = data.tokenize(data.load_examples([SUBSET], limit=64), tok, tempfile.mkdtemp(), "k", 384, 128)
    windows = data.WindowDataset(feats)
    batches = [data.collate([windows[i] for i in range(j, j + 8)]) for j in range(0, 48, 8)]

    use_score_attention(student)
    use_score_attention(teacher)
    torch.manual_seed(0)
    distiller = IntermediateDistiller(student, LayerMap(2, 4), teacher.config.hidden_size)
    opt = torch.optim.AdamW(distiller.parameters(), lr=1e-5)
    layers = {"layers": distiller.teacher_layers} if hasattr(distiller, "teacher_layers") else {}

    def intermediate(b):
        t_hidden, t_scores = teacher_intermediates(teacher, b, **layers)
        distiller(b, t_hidden, t_scores)["loss"].backward()
        torch.nn.utils.clip_grad_norm_(distiller.parameters(), 1.0)
        opt.step()
        opt.zero_grad()

    intermediate(batches[0])  # warm-up
    inter = cpu_seconds(intermediate, batches[1:])

    student.set_attn_implementation("sdpa")
    teacher.set_attn_implementation("sdpa")
    loss_fn, opt2 = PredictionLoss(1.0, 1.0), torch.optim.AdamW(student.parameters(), lr=1e-5)
    with torch.no_grad():
        logits = {id(b): teacher(**model_inputs(b)) for b in batches}

    def prediction(b):
        s, t = student(**model_inputs(b)), logits[id(b)]
        loss_fn(s.start_logits, s.end_logits, t.start_logits, t.end_logits, b["context_mask"])["loss"].backward()
        torch.nn.utils.clip_grad_norm_(student.parameters(), 1.0)
        opt2.step()
        opt2.zero_grad()

    prediction(batches[0])
    pred = cpu_seconds(prediction, batches[1:])

    new = "autocast_dtype" in inspect.signature(teacher_cache.build).parameters
    t0 = time.process_time()  # each version at its recipe's batch size for batch 8: 2 x 8 before, 256 after
    teacher_cache.build(teacher, feats, Path(tempfile.mkdtemp()) / "t.arrow", batch_size=256 if new else 16)
    cache = time.process_time() - t0
    print(f"{label}: intermediate {inter:.3f} s/step, prediction {pred:.3f} s/step, "
          f"cache of {len(feats)} windows {cache:.2f} s (CPU time, 1 thread)", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
