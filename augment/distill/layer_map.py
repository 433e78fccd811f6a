"""TinyBERT's uniform layer mapping and the checks that a teacher/student pair can be distilled."""
from __future__ import annotations

from dataclasses import dataclass

from augment.errors import ConfigError
from augment.qa.positions import length_problem


@dataclass(frozen=True)
class LayerMap:
    """Student layer m -> teacher layer m * k, k = teacher layers / student layers (TinyBERT sec. 3.1).

    ``hidden_pairs`` index ``output_hidden_states`` (0 = embeddings, which map to the teacher's embeddings);
    ``attention_pairs`` index the per-layer attention scores (0 = first transformer layer).

        >>> LayerMap(student_layers=2, teacher_layers=4).hidden_pairs
        ((0, 0), (1, 2), (2, 4))
        >>> LayerMap(student_layers=2, teacher_layers=4).attention_pairs
        ((0, 1), (1, 3))
    """

    student_layers: int
    teacher_layers: int

    def __post_init__(self):
        if self.student_layers < 1 or self.teacher_layers % self.student_layers:
            raise ConfigError(f"teacher has {self.teacher_layers} layers and student {self.student_layers}: the "
                              "uniform layer map needs the teacher's count to be a multiple of the student's")

    @property
    def k(self) -> int:
        return self.teacher_layers // self.student_layers

    @property
    def hidden_pairs(self) -> tuple[tuple[int, int], ...]:
        return tuple((m, m * self.k) for m in range(self.student_layers + 1))

    @property
    def attention_pairs(self) -> tuple[tuple[int, int], ...]:
        # Layer m (1-based) is index m - 1 in the list of attention scores.
        return tuple((m - 1, m * self.k - 1) for m in range(1, self.student_layers + 1))


def pair_problems(student_config, teacher_config, student_vocab: dict | None, teacher_vocab: dict | None,
                  intermediate: bool, max_length: int) -> list[str]:
    """Every reason the pair cannot be distilled, as messages (empty list: fine).

    Called with the configs and tokenizers only, before any weights load, so a bad pair costs nothing.
    """
    problems = []
    if student_vocab is not None and teacher_vocab is not None and student_vocab != teacher_vocab:
        only_s = len(set(student_vocab) - set(teacher_vocab))
        only_t = len(set(teacher_vocab) - set(student_vocab))
        what = (f"{only_s} tokens only in the student's, {only_t} only in the teacher's" if only_s or only_t
                else "same tokens, different ids")
        problems.append(f"teacher and student tokenizers have different vocabularies ({len(teacher_vocab)} vs "
                        f"{len(student_vocab)} entries; {what}); the teacher's logits would refer to other "
                        "tokens: pick a student built on the teacher's tokenizer")
    problems += [p for p in (length_problem(student_config, "student", max_length),
                             length_problem(teacher_config, "teacher", max_length)) if p]
    if intermediate:
        s_layers, t_layers = student_config.num_hidden_layers, teacher_config.num_hidden_layers
        if s_layers < 1 or t_layers % s_layers:  # a student of no layers has nothing to map to (and 4 % 0 raises)
            problems.append(f"teacher has {t_layers} layers and student {s_layers}: intermediate distillation "
                            "needs the teacher's layer count to be a multiple of the student's "
                            "(or use --stage prediction)")
        s_heads, t_heads = student_config.num_attention_heads, teacher_config.num_attention_heads
        if s_heads != t_heads:
            problems.append(f"teacher has {t_heads} attention heads and student {s_heads}: the attention loss "
                            "compares head by head, so they must be equal (or use --stage prediction)")
    return problems


def check_pair(student_config, teacher_config, student_vocab=None, teacher_vocab=None, intermediate=True,
               max_length: int = 384) -> None:
    """Raise :class:`ConfigError` listing every problem of the pair at once."""
    problems = pair_problems(student_config, teacher_config, student_vocab, teacher_vocab, intermediate,
                             max_length)
    if problems:
        raise ConfigError("; ".join(problems))


# Text that tokenizers with one vocabulary still read differently: mixed case and accents (lower-casing and
# strip_accents), a question that starts a sequence and a context that starts with a space (byte-level BPE's
# add_prefix_space), digits, punctuation, a tab, a no-break space and CJK (BERT's tokenize_chinese_chars).
PROBE = ("Who wrote Naïve Café's 12th-century ÉTUDE, for $3.50?",
         " Beyoncé GISELLE Knowles-Carter (born 1981)\tsang «Halo» in São\u00a0Paulo and 東京; x@y.org!")


def probe_ids(tokenizer) -> list[int]:
    """The ids ``tokenizer`` gives ``PROBE``'s question and context, encoded as the windows are: what tells apart
    tokenizers of one vocabulary that read text otherwise."""
    return tokenizer(*PROBE, split_special_tokens=True, verbose=False)["input_ids"]


def encoding_problem(student_tokenizer, teacher_tokenizer, student: str, teacher: str) -> str | None:
    """Why the teacher cannot read the student tokenizer's windows although the vocabularies are equal, or None.

    The windows are cut by the student's tokenizer and the teacher runs on the same ids, so a teacher trained on
    lower-cased text given a cased student tokenizer's ids reads mostly [UNK] and other pieces, and every loss
    against it still looks fine. Compared: both tokenizers' ids of a question/context pair (``PROBE``), encoded
    as the windows are.

        >>> encoding_problem(cased_tok, uncased_tok, "my-cased-student", "my-uncased-teacher")  # doctest: +SKIP
        "--teacher my-uncased-teacher and --student my-cased-student tokenize the same text differently ..."
    """
    s_ids, t_ids = probe_ids(student_tokenizer), probe_ids(teacher_tokenizer)
    if s_ids == t_ids:
        return None
    i = next((i for i, (s, t) in enumerate(zip(s_ids, t_ids)) if s != t), min(len(s_ids), len(t_ids)))
    t_piece, s_piece = (repr(tok.convert_ids_to_tokens(x[i])) if i < len(x) else "the end"
                        for tok, x in ((teacher_tokenizer, t_ids), (student_tokenizer, s_ids)))
    return (f"--teacher {teacher} and --student {student} tokenize the same text differently although their "
            "vocabularies are equal (other lower-casing, accent stripping or prefix space): token "
            f"{i} of a probe question and context is {t_piece} for the teacher and {s_piece} for the student; the "
            "windows are the student's, so the teacher would read other tokens than it was trained on: pick a "
            "student built on the teacher's tokenizer")


def teacher_types(student_tokenizer, teacher_tokenizer, teacher_config):
    """The teacher tokenizer's pair template (:class:`augment.pairing.PairTemplate`) when the teacher reads token
    type ids that the student's tokenizer does not make, else None.

    The windows are the student tokenizer's. A BERT teacher (question 0, context 1) given a DistilBERT
    student's windows without type ids would read the whole window as question; with the template, the windows
    carry the ids the teacher's own tokenizer would give them (:func:`augment.qa.features.template_types`).
    That needs the two tokenizers to lay out a pair alike (the same special tokens in the same places), which
    is checked here, before anything is tokenised. A teacher with one token type needs nothing."""
    if ("token_type_ids" not in teacher_tokenizer.model_input_names
            or "token_type_ids" in student_tokenizer.model_input_names
            or getattr(teacher_config, "type_vocab_size", 1) < 2):
        return None
    from augment.pairing import pair_template

    try:
        teacher = pair_template(teacher_tokenizer)
        student = pair_template(student_tokenizer, token_types=False)
    except ConfigError:
        teacher = student = None
    if teacher is None or not teacher.token_types or [p[:2] for p in student.parts] != [p[:2] for p in teacher.parts]:
        raise ConfigError("the teacher reads token_type_ids (question 0, context 1) and the student's tokenizer makes "
                          "none, and their tokenizers do not lay out a question and context alike, so the teacher's "
                          "ids cannot be given to the student's windows: pick a student built on the teacher's "
                          "tokenizer")
    return teacher
