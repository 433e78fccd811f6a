"""Whether a student and a teacher can be distilled on the student's windows, asked of their configs and
tokenizers alone (no weights load), and which token type ids the windows carry: the teacher's, from its
tokenizer's pair template, where the teacher reads them and the student's tokenizer makes none; the student
tokenizer's own, asked for, where a model reads them and the tokenizer makes them only when asked.

    problems, template, ask = check_models(tokenizer, s_cfg, t_tok, t_cfg, "student", "teacher",
                                           intermediate=True, max_length=384, doc_stride=128,
                                           trust_remote_code=False)
"""
from __future__ import annotations

from augment.errors import ConfigError


def check_models(tokenizer, student_config, teacher_tokenizer, teacher_config, student: str, teacher: str,
                 intermediate: bool, max_length: int, doc_stride: int, trust_remote_code: bool
                 ) -> tuple[list[str], object, bool]:
    """(problems, teacher_types, ask_token_types) of the student (``tokenizer``, ``student_config``) and the teacher
    (``teacher_tokenizer`` and ``teacher_config``, None each with --teacher none), named ``student`` and ``teacher``
    in the problems. ``intermediate``: the run has the intermediate stage (layers, heads and score capture must
    fit). ``teacher_types``: :func:`augment.distill.layer_map.teacher_types` (None where a problem stops it);
    ``ask_token_types``: :func:`windows_ask_token_types`. Every problem is found, for one error line."""
    from augment.distill.attention_capture import capture_problem
    from augment.distill.layer_map import encoding_problem, pair_problems, teacher_types
    from augment.qa.features import stride_problem
    from augment.qa.positions import length_problem, vocabulary_problem

    problems = [stride_problem(tokenizer, max_length, doc_stride)]  # else a traceback mid-tokenising
    # The windows are the student tokenizer's ids, read by both models: each must embed all of them.
    problems.append(vocabulary_problem(student_config, tokenizer, "student"))
    template = None
    if teacher_config is not None:
        s_vocab, t_vocab = tokenizer.get_vocab(), teacher_tokenizer.get_vocab()
        problems += pair_problems(student_config, teacher_config, s_vocab, t_vocab,
                                  intermediate=intermediate, max_length=max_length)
        if t_problem := vocabulary_problem(teacher_config, tokenizer, "teacher"):  # its windows: the student's ids
            problems.append(t_problem.replace("the teacher's tokenizer", "the student's tokenizer (the windows)"))
        if s_vocab == t_vocab:  # (another vocabulary is named above) The teacher runs on the student's windows:
            # the same vocabulary read with other lower-casing or prefix space would feed it other ids.
            problems.append(encoding_problem(tokenizer, teacher_tokenizer, student, teacher))
        # A BERT teacher reads token type ids that a DistilBERT student's tokenizer does not make: the windows
        # then carry the ones the teacher's tokenizer would give them (the student is not handed them).
        try:
            template = teacher_types(tokenizer, teacher_tokenizer, teacher_config)
        except ConfigError as e:
            problems.append(str(e))
        if intermediate:
            problems += [capture_problem(c, n, trust_remote_code) for c, n in ((student_config, "student"),
                                                                              (teacher_config, "teacher"))]
    else:  # no pair to check, but the student fits?
        problems.append(length_problem(student_config, "student", max_length))
    readers = [("student", student, student_config)] + (
        [("teacher", teacher, teacher_config)] if teacher_config is not None else [])
    ask, found = windows_ask_token_types(tokenizer, template, readers, trust_remote_code)
    return [p for p in problems + found if p], template, ask


def windows_ask_token_types(tokenizer, teacher_types, readers: list[tuple[str, str, object]],
                            trust_remote_code: bool) -> tuple[bool, list[str]]:
    """(ask, problems): whether the windows ask the student's ``tokenizer`` for token type ids, as the evaluation
    asks it for a model that reads them (augment.qa.evaluate). ``readers``: (role, name, config) of each model
    that reads the windows; a config no QA model is built from is a problem naming it.

    transformers 5's ALBERT, Funnel and BigBird tokenizers make them only when asked: their windows had none,
    so such a student (or teacher) trained on all-0 types, and was evaluated on question 0, context 1. A
    tokenizer that makes them anyway is not asked (BERT's windows and caches stay as they were), nor is one
    whose windows get the teacher's ids from its template (``teacher_types``)."""
    from augment.qa.evaluate import asks_token_types, config_input_names

    if teacher_types is not None or "token_type_ids" in tokenizer.model_input_names:
        return False, []
    for role, name, cfg in readers:
        try:
            reads = asks_token_types(config_input_names(cfg, trust_remote_code), cfg)  # meta device: no weights
        except (OSError, ValueError) as e:
            first = (str(e).strip().splitlines() or [type(e).__name__])[0]
            return False, [f"could not build the {role} model of {name!r} from its config: {first[:200]}"]
        if reads:
            return True, []
    return False, []
