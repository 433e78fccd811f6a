"""Time draw_chunk (drawing + Arrow encoding, what a worker does) on a synthetic candidate table.

    PYTHONPATH=. python benchmarks/cpu_draw_ab.py [LABEL]    # prints seconds and a hash of the bytes
"""
import sys, random
from augment.segment import split_words, is_eligible, english_stopwords
from augment.variants import TextCandidates
from augment.rowpool import DrawSpec, draw_chunk
from augment.shards import hf_schema
from augment.squad_io import iter_rows
rows = list(iter_rows("data/squad_v2/train-v2.0-subset.json", "train"))[:800]
sw = english_stopwords(); rnd = random.Random(0)
vocab = [w.lower() for r in rows[:200] for w in r["context"].split() if w.isalpha()]
table = {}
for t in sorted({r["context"] for r in rows}):
    ws = split_words(t)
    table[t] = TextCandidates(tuple(ws), {i: (tuple(rnd.sample(vocab, 15)), "mlm")
                                          for i, w in enumerate(ws) if is_eligible(w.text, sw)})
spec = DrawSpec(n=20, replace_prob=0.4, seed=0, answer_policy="keep", augment_question=False,
                include_original=False, schema=hf_schema())
best = min(draw_chunk(spec, rows, table)[2] for _ in range(2))
import hashlib; print(sys.argv[1] if len(sys.argv) > 1 else "", f"draw_chunk 800 examples x20: best of 2 {best:.2f} s", hashlib.sha256(b"".join(draw_chunk(spec, rows, table)[0])).hexdigest()[:12])
