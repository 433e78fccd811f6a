"""Extractive question answering: windowed features, answer post-processing, the SQuAD 2.0 metric
and an evaluation loop shared by ``distill-train`` and ``squad-eval``."""
