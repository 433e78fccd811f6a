"""Extractive question answering: windowed features, answer post-processing, the SQuAD 2.0 metric,
an evaluation loop shared by ``distill-train`` and ``squad-eval``, and ``answer`` for asking a model
questions."""
