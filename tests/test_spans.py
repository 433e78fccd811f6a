"""augment.spans.apply_edits as a caller meets it: edits in any order, stored dicts picked by field, and edits
that cannot apply refused by name rather than spliced in."""
import pytest

from augment.spans import Edit, apply_edits, move_spans

TEXT = "The quick brown fox"


def test_edits_apply_in_text_order_whatever_order_they_come_in():
    # Offsets are the original text's: "brown" at 10 stays at 10 although "quick" before it gets shorter.
    edits = [Edit("context", 10, 15, "brown", "red", "glove"), Edit("context", 4, 9, "quick", "slow", "mlm")]
    assert apply_edits(TEXT, edits) == "The slow red fox"
    assert apply_edits(TEXT, edits[::-1]) == "The slow red fox"


def test_stored_edits_of_both_fields_apply_to_their_own_text():
    """A row keeps the context's and the question's edits in one list of dicts; ``field`` picks one text's."""
    stored = [{"field": "context", "start": 4, "end": 9, "original": "quick", "replacement": "fast",
               "source": "glove"},
              {"field": "question", "start": 0, "end": 3, "original": "Who", "replacement": "What",
               "source": "mlm"}]
    assert apply_edits(TEXT, stored, field="context") == "The fast brown fox"
    assert apply_edits("Who ran?", stored, field="question") == "What ran?"


def test_overlapping_edits_are_refused_naming_the_second():
    # Spliced one after the other they would give "The slowck brown fox" (or drop text): never a variant.
    edits = [Edit("context", 4, 9, "quick", "slow", "glove"), Edit("context", 6, 9, "ick", "ack", "mlm")]
    with pytest.raises(ValueError, match="overlapping edits at 6: Edit.*'ick'"):
        apply_edits(TEXT, edits)


def test_an_edit_whose_original_is_not_at_its_offsets_is_refused():
    """Offsets of another text (the question's edit given the context) would replace whatever sits there."""
    with pytest.raises(ValueError, match=r"does not match the text there \('quick'\)"):
        apply_edits(TEXT, [Edit("context", 4, 9, "quack", "slow", "glove")])


def test_a_span_right_after_an_edit_moves_with_it():
    """An edit ending exactly where an answer starts (a word before "-Carter") lies before the answer: both
    of its ends move by the edit's change in length, 7 - 5 characters."""
    new = "Smith-Carter sang"
    moved = move_spans({"text": ["-Carter"], "answer_start": [7]}, new,
                       [Edit("context", 0, 7, "Knowles", "Smith", "glove")])
    assert moved == {"text": ["-Carter"], "answer_start": [5]}
