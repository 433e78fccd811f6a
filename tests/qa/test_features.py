"""Windows and labels of augment.qa.features on the real bert-base-uncased tokenizer."""
import pytest
from transformers import AutoTokenizer

from augment.qa.features import prepare_eval_features, prepare_train_features

FILLER = "Rivers carry sediment toward the sea over many long years. "
ANSWER = "the Kreuzberg bridge opened in 1896"


def _long_row(n_before=12, n_after=12, qid="long"):
    context = FILLER * n_before + "Records say " + ANSWER + ". " + FILLER * n_after
    return {"id": qid, "question": "When did the bridge open?", "context": context,
            "answers": {"text": [ANSWER], "answer_start": [context.index(ANSWER)]}}


def _columns(rows):
    return {k: [r[k] for r in rows] for k in rows[0]}


def _span_text(row, feats, eval_feats, i):
    offs = eval_feats["offset_mapping"][i]
    return row["context"][offs[feats["start_positions"][i]][0]:offs[feats["end_positions"][i]][1]]


def _context_positions(enc, i):
    return [t for t, s in enumerate(enc.sequence_ids(i)) if s == 1]


def test_long_context_gives_overlapping_windows_that_cover_it(tokenizer):
    row = _long_row()
    ev = prepare_eval_features(_columns([row]), tokenizer, max_length=64, doc_stride=16)
    n = len(ev["input_ids"])
    assert n > 3
    assert ev["window_index"] == list(range(n)) and set(ev["example_id"]) == {"long"}
    spans = [[o for o in offs if o is not None] for offs in ev["offset_mapping"]]
    assert spans[0][0][0] == 0 and spans[-1][-1][1] == len(row["context"].rstrip())
    for prev, nxt in zip(spans, spans[1:]):
        assert nxt[0][0] < prev[-1][1]  # consecutive windows overlap (doc_stride tokens)
    assert all(len(ids) == 64 for ids in ev["input_ids"])


def test_every_window_is_labelled_with_the_answer_or_cls(tokenizer):
    row = _long_row()
    cols = _columns([row])
    tr = prepare_train_features(cols, tokenizer, max_length=64, doc_stride=16)
    ev = prepare_eval_features(cols, tokenizer, max_length=64, doc_stride=16)
    assert tr["input_ids"] == ev["input_ids"]
    start_char = row["answers"]["answer_start"][0]
    end_char = start_char + len(ANSWER)
    with_answer = 0
    for i, offs in enumerate(ev["offset_mapping"]):
        ctx = [o for o in offs if o is not None]
        holds = ctx[0][0] <= start_char and ctx[-1][1] >= end_char
        if holds:
            with_answer += 1
            assert _span_text(row, tr, ev, i) == ANSWER
        else:
            assert tr["start_positions"][i] == tr["end_positions"][i] == 0
            assert tr["input_ids"][i][0] == tokenizer.cls_token_id
    assert 1 <= with_answer < len(ev["input_ids"])


def test_answer_cut_by_a_window_edge_is_labelled_cls(tokenizer):
    # An answer longer than a window's context fits in no window, so every window says "no answer".
    row = _long_row(n_before=2, n_after=2)
    long_answer = row["context"][10:300]
    row["answers"] = {"text": [long_answer], "answer_start": [10]}
    tr = prepare_train_features(_columns([row]), tokenizer, max_length=48, doc_stride=16)
    assert len(tr["input_ids"]) > 1
    assert set(tr["start_positions"]) == set(tr["end_positions"]) == {0}


@pytest.mark.parametrize("answer, pieces", [("token", "token"), ("ization", "ization"),
                                            ("kenizat", "tokenization")])
def test_answer_inside_a_word_maps_to_the_pieces_that_contain_it(tokenizer, answer, pieces):
    context = "We study the tokenization of text."
    start = context.index(answer)
    row = {"id": "w", "question": "What?", "context": context,
           "answers": {"text": [answer], "answer_start": [start]}}
    tr = prepare_train_features(_columns([row]), tokenizer, max_length=32, doc_stride=8)
    ev = prepare_eval_features(_columns([row]), tokenizer, max_length=32, doc_stride=8)
    assert len(tr["input_ids"]) == 1
    assert _span_text(row, tr, ev, 0) == pieces
    assert tr["start_positions"][0] <= tr["end_positions"][0]


def test_unanswerable_rows_are_labelled_cls_in_every_window(tokenizer):
    row = _long_row(qid="noans")
    row["answers"] = {"text": [], "answer_start": []}
    tr = prepare_train_features(_columns([row]), tokenizer, max_length=64, doc_stride=16)
    assert len(tr["input_ids"]) > 1
    assert set(tr["start_positions"]) == set(tr["end_positions"]) == {0}


def test_context_mask_is_context_plus_cls_only(tokenizer):
    rows = [_long_row(n_before=1, n_after=0)]
    cols = _columns(rows)
    tr = prepare_train_features(cols, tokenizer, max_length=64, doc_stride=16)
    enc = tokenizer(cols["question"], cols["context"], truncation="only_second", max_length=64,
                    stride=16, return_overflowing_tokens=True, padding="max_length")
    n_question = len(tokenizer.tokenize(rows[0]["question"]))
    for i, mask in enumerate(tr["context_mask"]):
        ones = [t for t, m in enumerate(mask) if m]
        assert ones == [0] + _context_positions(enc, i)
        assert not any(mask[1:1 + n_question])                      # question tokens
        assert all(m == 0 for m, a in zip(mask, tr["attention_mask"][i]) if a == 0)  # padding
        assert all(m == 0 for m, t in zip(mask, tr["input_ids"][i]) if t == tokenizer.sep_token_id)
    assert any(a == 0 for a in tr["attention_mask"][-1])  # the last window really has padding


def test_eval_offsets_are_none_off_the_context(tokenizer):
    ev = prepare_eval_features(_columns([_long_row(n_before=1, n_after=1)]), tokenizer,
                               max_length=64, doc_stride=16)
    for offs, mask in zip(ev["offset_mapping"], ev["context_mask"]):
        assert offs[0] is None and mask[0] == 1
        assert [o is not None for o in offs[1:]] == [bool(m) for m in mask[1:]]


def test_batch_of_sample_rows_through_dataset_map(tokenizer, sample_rows):
    import datasets

    ds = datasets.Dataset.from_list(sample_rows[:6])
    tr = ds.map(prepare_train_features, batched=True, remove_columns=ds.column_names,
                fn_kwargs={"tokenizer": tokenizer, "max_length": 96, "doc_stride": 32})
    assert set(tr.column_names) == {"input_ids", "attention_mask", "token_type_ids", "start_positions",
                                    "end_positions", "context_mask", "example_id", "window_index"}
    assert set(tr["example_id"]) == {r["id"] for r in sample_rows[:6]}
    ev = ds.map(prepare_eval_features, batched=True, remove_columns=ds.column_names,
                fn_kwargs={"tokenizer": tokenizer, "max_length": 96, "doc_stride": 32})
    assert ev.num_rows == tr.num_rows and ev[0]["offset_mapping"][0] is None
    by_id = {r["id"]: r for r in sample_rows}
    for i in range(tr.num_rows):
        row, s, e = by_id[tr[i]["example_id"]], tr[i]["start_positions"], tr[i]["end_positions"]
        if s:  # a labelled span reads back as the gold answer, modulo the tokenizer's lower-casing
            offs = ev[i]["offset_mapping"]
            assert row["context"][offs[s][0]:offs[e][1]].lower() == row["answers"]["text"][0].lower().strip()


def test_tokenizer_without_token_type_ids(vocab_dir):
    # RoBERTa-style: the tokenizer returns no token_type_ids, so neither do the features.
    tok = AutoTokenizer.from_pretrained(vocab_dir, model_input_names=["input_ids", "attention_mask"])
    row = _long_row(n_before=3, n_after=3)
    tr = prepare_train_features(_columns([row]), tok, max_length=64, doc_stride=16)
    ev = prepare_eval_features(_columns([row]), tok, max_length=64, doc_stride=16)
    assert "token_type_ids" not in tr and "token_type_ids" not in ev
    labelled = [i for i, s in enumerate(tr["start_positions"]) if s]
    assert labelled and all(_span_text(row, tr, ev, i) == ANSWER for i in labelled)


def test_left_padding_puts_context_first_but_pads_on_the_right(vocab_dir):
    # A tokenizer that pads on the left (XLNet-style) takes the context first, as in run_qa.py; its windows are
    # padded on the right all the same, as BERT numbers positions by index (left padding shifted every token's).
    tok = AutoTokenizer.from_pretrained(vocab_dir, padding_side="left")
    row = {"id": "s", "question": "Who sang?", "context": "Ann sang loudly.",
           "answers": {"text": [], "answer_start": []}}
    tr = prepare_train_features(_columns([row]), tok, max_length=24, doc_stride=8)
    mask = tr["attention_mask"][0]
    assert 0 in mask and mask == sorted(mask, reverse=True)  # padded, and only after the last real token
    cls = tr["input_ids"][0].index(tok.cls_token_id)
    assert tok.convert_ids_to_tokens(tr["input_ids"][0][cls + 1]) == "ann"  # the context comes first
    assert tr["start_positions"] == tr["end_positions"] == [cls]
    assert tr["context_mask"][0][cls] == 1
    assert sum(tr["context_mask"][0]) == 1 + len(tok.tokenize(row["context"]))
    row["answers"] = {"text": ["sang"], "answer_start": [4]}
    tr = prepare_train_features(_columns([row]), tok, max_length=24, doc_stride=8)
    assert tok.convert_ids_to_tokens(tr["input_ids"][0][tr["start_positions"][0]]) == "sang"


def test_stride_not_below_max_length_is_rejected(tokenizer):
    # The true limit, as the command lines give it: 64 tokens hold [CLS] q [SEP] c [SEP], so a question token
    # beside the stride needs a stride below 60 (not below 64 // 2).
    for stride in (64, 60):
        with pytest.raises(ValueError, match=f"^doc_stride {stride} leaves no room for the question in windows of "
                                             "max_length 64; use a doc_stride below 60$"):
            prepare_train_features(_columns([_long_row()]), tokenizer, max_length=64, doc_stride=stride)
    assert prepare_train_features(_columns([_long_row()]), tokenizer, max_length=64, doc_stride=59)["input_ids"]


def test_cut_questions_are_counted_and_cutting_warns_nothing(tokenizer):
    """cut_questions counts the questions a window cannot hold whole; tokenising a question alone (to cut it)
    no longer sets off transformers' warning about sequences longer than the model's maximum."""
    import copy

    from augment.qa.features import cut_questions, question_room

    short = copy.deepcopy(tokenizer)
    short.model_max_length = 16  # the question below is longer than the "model"
    long, brief = "why " * 60 + "did the bridge open?", "  When did the bridge open?"
    room = question_room(short, 64, 16)
    assert room == 44 and len(tokenizer.tokenize(long)) > room >= len(tokenizer.tokenize(brief))
    assert cut_questions([long, brief, long], short, 64, 16) == 2
    assert cut_questions([brief], short, 64, 16) == 0
    row = _long_row(n_before=2, n_after=2)
    row["question"] = long
    prepare_train_features(_columns([row]), short, max_length=64, doc_stride=16)
    prepare_eval_features(_columns([row]), short, max_length=64, doc_stride=16)
    assert "sequence-length-is-longer-than-the-specified-maximum" not in short.deprecation_warnings


@pytest.fixture(scope="module")
def roberta_tokenizer(tmp_path_factory, sample_rows):
    """A byte-level BPE RoBERTa tokenizer trained on the sample rows: <s> q </s></s> c </s>, no types."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import RobertaTokenizer

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator([r["context"] for r in sample_rows] + [r["question"] for r in sample_rows],
                            vocab_size=800, min_frequency=1, show_progress=False,
                            special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    path = tmp_path_factory.mktemp("bpe")
    bpe.save_model(str(path))
    return RobertaTokenizer.from_pretrained(str(path))


def test_roberta_style_byte_level_bpe(roberta_tokenizer, sample_rows):
    tok = roberta_tokenizer
    cols = _columns(sample_rows[:10])
    tr = prepare_train_features(cols, tok, max_length=96, doc_stride=32)
    ev = prepare_eval_features(cols, tok, max_length=96, doc_stride=32)
    assert "token_type_ids" not in tr and len(tr["input_ids"]) > 10
    by_id = {r["id"]: r for r in sample_rows}
    labelled = 0
    for i, ids in enumerate(tr["input_ids"]):
        assert ids[0] == tok.cls_token_id and tr["context_mask"][i][0] == 1
        seps = [t for t, x in enumerate(ids) if x == tok.sep_token_id]
        assert seps and not any(tr["context_mask"][i][t] for t in seps)   # the </s></s> pair and the end
        row, s = by_id[tr["example_id"][i]], tr["start_positions"][i]
        if s:
            labelled += 1
            offs = ev["offset_mapping"][i]
            gold = row["answers"]["text"][0].strip()
            assert row["context"][offs[s][0]:offs[tr["end_positions"][i]][1]] == gold
    assert labelled


def test_overlong_question_is_cut_instead_of_crashing_the_tokenizer(tokenizer):
    # Without the cut the fast tokenizer panics: the window would hold fewer context tokens than
    # the stride.
    row = _long_row(n_before=2, n_after=2)
    row["question"] = "why " * 60 + "did the bridge open?"
    tr = prepare_train_features(_columns([row]), tokenizer, max_length=64, doc_stride=16)
    ev = prepare_eval_features(_columns([row]), tokenizer, max_length=64, doc_stride=16)
    room = 64 - 3 - 16 - 1
    for i, mask in enumerate(tr["context_mask"]):
        assert sum(mask) - 1 > 16                                # more context than the stride
        assert tr["input_ids"][i][1:room + 1] == [tokenizer.convert_tokens_to_ids("why")] * room
    labelled = [i for i, s in enumerate(tr["start_positions"]) if s]
    assert labelled and all(_span_text(row, tr, ev, i) == ANSWER for i in labelled)


def test_a_question_cut_inside_a_multibyte_character_keeps_whole_characters(roberta_tokenizer):
    """Byte-level BPE gives each byte of an emoji a token of its own, all with the emoji's character span; a cut
    after the first of them kept the whole emoji, up to three tokens over the room, and the tokenizer panicked
    (pyo3_runtime.PanicException, a BaseException: a traceback from squad-eval and distill-train). The words
    before the emojis put the cut on each of an emoji's byte tokens in turn."""
    from augment.qa.features import question_room

    tok = roberta_tokenizer
    room = question_room(tok, 128, 48)  # 75
    for words in range(room - 6, room + 1):
        question = "the " * words + "🍕🍕🍕 when?"
        assert len(tok(question, add_special_tokens=False)["input_ids"]) > room
        row = _long_row(n_before=2, n_after=2)
        row["question"] = question
        tr = prepare_train_features(_columns([row]), tok, max_length=128, doc_stride=48)
        ev = prepare_eval_features(_columns([row]), tok, max_length=128, doc_stride=48)
        for i, ids in enumerate(tr["input_ids"]):
            kept = ids[1:ids.index(tok.sep_token_id)]   # <s> question </s></s> context </s>
            assert len(kept) <= room and question.startswith(tok.decode(kept))  # whole characters only
            assert sum(tr["context_mask"][i]) - 1 > 48   # more context than the stride, as the tokenizer needs
        labelled = [i for i, s in enumerate(tr["start_positions"]) if s]
        assert labelled and all(_span_text(row, tr, ev, i) == ANSWER for i in labelled)


@pytest.mark.parametrize("family", ["bert", "roberta"])
def test_text_that_spells_a_special_token_is_text(family, tokenizer, roberta_tokenizer):
    """A context or question holding "<s>", "</s>", "[SEP]" or a mask token's spelling is read as its characters:
    the only special ids in a window are the pair template's, and the answer after such text reads back."""
    tok = tokenizer if family == "bert" else roberta_tokenizer
    spelled = f"{tok.cls_token} {tok.sep_token} {tok.mask_token} {tok.pad_token}"
    context = f"The old markup {spelled} was replaced by CSS in 1996."
    question = f"When was {tok.sep_token} replaced?"
    row = {"id": "s", "question": question, "context": context,
           "answers": {"text": ["1996"], "answer_start": [context.index("1996")]}}
    cols = {k: [v] for k, v in row.items()}
    ev = prepare_eval_features(cols, tok, max_length=64, doc_stride=16)
    plain = {k: [v] for k, v in {**row, "question": "When was it replaced?",
                                 "context": context.replace(spelled, "x")}.items()}
    template = prepare_eval_features(plain, tok, max_length=64, doc_stride=16)
    special = set(tok.all_special_ids) - {tok.pad_token_id}  # padding: the texts' lengths differ
    assert ([i for i in ev["input_ids"][0] if i in special]
            == [i for i in template["input_ids"][0] if i in special])
    tr = prepare_train_features(cols, tok, max_length=64, doc_stride=16)
    s, e = tr["start_positions"][0], tr["end_positions"][0]
    offs = ev["offset_mapping"][0]
    assert context[offs[s][0]:offs[e][1]].strip() == "1996"


def test_windows_too_short_for_any_stride_name_the_length_they_need(tokenizer):
    """squad-eval --max-length 5 --doc-stride 1 said "use a --doc-stride below 1", and --doc-stride must be
    at least 1 there: no stride fits, so the length is what to change (BERT's pair takes 3 special tokens)."""
    from augment.qa.features import stride_problem

    assert stride_problem(tokenizer, 5, 1) == ("--max-length 5 leaves no room for the question with any "
                                               "--doc-stride; use a --max-length of at least 6")
    assert stride_problem(tokenizer, 6, 2) == ("--doc-stride 2 leaves no room for the question in windows of "
                                               "--max-length 6; use a --doc-stride below 2")
    assert stride_problem(tokenizer, 6, 1) is None


@pytest.fixture(scope="module")
def deberta_tokenizer(tiny_deberta_mlm_path):
    """Byte-level BPE whose offsets are not trimmed: "Ġword" spans its space as well."""
    return AutoTokenizer.from_pretrained(tiny_deberta_mlm_path)


# Words that are whole tokens for every tokenizer here (the BPE ones learnt them from the sample rows), so
# windows start and end on word boundaries.
WORDS = "the film was released in the year with her group and his song from the album as its lead singer"


def _edges(tok, context, max_length=16, doc_stride=4):
    """(first char of window 1's first context token, past the last char of window 0's last one): a span
    from the first to past the second is in window 1 only, one from before the first to the second in 0 only."""
    ev = prepare_eval_features(_columns([{"id": "e", "question": "Which?", "context": context}]), tok,
                               max_length=max_length, doc_stride=doc_stride)
    spans = [[o for o in offs if o is not None] for offs in ev["offset_mapping"]]
    assert len(spans) >= 2
    start = spans[1][0][0]
    return start + (context[start] == " "), spans[0][-1][1]   # DeBERTa's "Ġword" starts at its space


def _labelled(tok, context, text, start, max_length=16, doc_stride=4):
    """The context text each window is labelled with, less the space DeBERTa's "Ġword" holds (None: "no answer")."""
    cols = _columns([{"id": "e", "question": "Which?", "context": context,
                      "answers": {"text": [text], "answer_start": [start]}}])
    tr = prepare_train_features(cols, tok, max_length=max_length, doc_stride=doc_stride)
    ev = prepare_eval_features(cols, tok, max_length=max_length, doc_stride=doc_stride)
    return [context[ev["offset_mapping"][i][s][0]:ev["offset_mapping"][i][e][1]].strip() if s else None
            for i, (s, e) in enumerate(zip(tr["start_positions"], tr["end_positions"]))]


@pytest.mark.parametrize("family", ["bert", "roberta", "deberta"])
def test_answer_with_edge_whitespace_at_a_window_edge_is_labelled(family, tokenizer, roberta_tokenizer,
                                                                  deberta_tokenizer):
    # " group and his" starts on window 1's first token: its space lies before the window's first offset
    # (WordPiece drops it, RoBERTa trims it off "Ġgroup"), which must not make the window "no answer".
    tok = {"bert": tokenizer, "roberta": roberta_tokenizer, "deberta": deberta_tokenizer}[family]
    first, last = _edges(tok, WORDS)
    after = WORDS.index(" ", last + 1)      # past the word after window 0's end: in window 1 only
    lead = WORDS[first - 1:after]
    assert lead.startswith(" ") and _labelled(tok, WORDS, lead, first - 1)[1] == lead.strip()
    before = WORDS.rindex(" ", 0, first - 1) + 1   # the word before window 1's start: in window 0 only
    trail = WORDS[before:last + 1]
    assert trail.endswith(" ") and _labelled(tok, WORDS, trail, before)[0] == trail.strip()
    # Ending on the context's last token, with whitespace after it that no token holds.
    context = WORDS + "  "
    end = WORDS[WORDS.rindex(" ") + 1:] + "  "
    assert _labelled(tok, context, end, WORDS.rindex(" ") + 1)[-1] == "singer"
    # Ending exactly at window 0's last token (no whitespace) still is labelled there.
    assert _labelled(tok, WORDS, WORDS[before:last], before)[0] == WORDS[before:last]


@pytest.mark.parametrize("family", ["bert", "roberta", "deberta"])
def test_answer_of_only_whitespace_is_labelled_no_answer(family, tokenizer, roberta_tokenizer,
                                                         deberta_tokenizer):
    # No token holds it; DeBERTa's "Ġwas" begins at the space, so the space alone was labelled "was".
    tok = {"bert": tokenizer, "roberta": roberta_tokenizer, "deberta": deberta_tokenizer}[family]
    for start, text in ((3, " "), (8, " "), (3, " \t")):
        context = WORDS[:start] + text + WORDS[start + 1:]
        assert set(_labelled(tok, context, text, start, max_length=64, doc_stride=16)) == {None}


@pytest.mark.parametrize("tail", ["Jose\u0301", "Ann\u200b"])
def test_answer_ending_on_a_character_no_token_holds_is_labelled(tokenizer, roberta_tokenizer, tail):
    # bert-base-uncased strips a decomposed accent (and drops a format character such as U+200B), so the last
    # token's span stops before the answer's end: at the context's end every window was labelled "no answer".
    context = WORDS + " " + tail
    assert _labelled(tokenizer, context, tail, len(WORDS) + 1)[-1] == tail[:-1]      # the token's span: "jose"
    assert _labelled(roberta_tokenizer, context, tail, len(WORDS) + 1)[-1] == tail   # byte-level holds every character


def test_train_windows_carry_the_token_types_eval_windows_get(albert_tokenizer_dir, tokenizer, sample_rows):
    """transformers 5's ALBERT tokenizer makes token type ids only when asked: the evaluation asked for them (for
    a model that reads them) and the training windows could not, so the model trained on all-0 types."""
    albert = AutoTokenizer.from_pretrained(albert_tokenizer_dir)
    cols = _columns(sample_rows[:4])
    tr = prepare_train_features(cols, albert, max_length=64, doc_stride=16, with_token_types=True)
    ev = prepare_eval_features(cols, albert, max_length=64, doc_stride=16, with_token_types=True)
    assert len(tr["input_ids"]) > 4 and tr["input_ids"] == ev["input_ids"]
    assert tr["token_type_ids"] == ev["token_type_ids"] and all(max(t) == 1 for t in tr["token_type_ids"])
    assert "token_type_ids" not in prepare_train_features(cols, albert, max_length=64, doc_stride=16)  # unasked
    # BERT's tokenizer makes them unasked: asking changes no training window.
    assert prepare_train_features(cols, tokenizer, max_length=64, doc_stride=16, with_token_types=True) == \
        prepare_train_features(cols, tokenizer, max_length=64, doc_stride=16)
