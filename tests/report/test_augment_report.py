"""augment-report and augment-squad --report on a small real run (tiny masked LM, the 65-question sample)."""
import html
import json
import re

import pyarrow as pa
import pytest

from augment.report.augment_stats import AugmentStats, original_text, shard_paths
from augment.report.viewer import original_spans, render_question
from augment.segment import english_stopwords, fold, is_eligible, split_words
from augment.spans import Edit, apply_edits
from pipelines import augment_report, augment_squad
from tests.browser import blank, load_page

MULTIPLIER = 3


@pytest.fixture(scope="module")
def aug_dir(tmp_path_factory, sample_rows, tiny_mlm_path):
    """The sample x3, plus one duplicate id that augment-squad rejects (the header lists it)."""
    tmp = tmp_path_factory.mktemp("aug")
    source = tmp / "input.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in [*sample_rows[:2], sample_rows[0], *sample_rows[2:]]))
    out = tmp / "out"
    assert augment_squad.main(["--input", str(source), "--mlm", tiny_mlm_path, "--glove", "none",
                               "--mlm-mode", "multi", "--multiplier", str(MULTIPLIER), "--shard-rows", "60",
                               "--report", "--quiet", "--out", str(out)]) == 0
    return out


def all_rows(aug_dir):
    rows = []
    for path in shard_paths(aug_dir):
        with pa.OSFile(str(path), "rb") as f:
            rows += pa.ipc.open_stream(f).read_all().to_pylist()
    return rows


def test_original_text_and_spans_undo_the_edits(aug_dir, sample_rows):
    originals = {r["id"]: r for r in sample_rows}
    for row in all_rows(aug_dir):
        orig = originals[row["orig_id"]]
        edits = [e for e in row["edits"] if e["field"] == "context"]
        assert apply_edits(orig["context"], [Edit(**e) for e in edits]) == row["context"]
        assert original_text(row["context"], edits) == orig["context"]
        assert original_spans(row["answers"], orig["context"], edits) == orig["answers"]


def test_candidates_per_eligible_word_are_recorded(aug_dir, sample_rows):
    # One count per eligible word of each distinct context, whatever its source or candidate count.
    stop = english_stopwords()
    eligible = sum(is_eligible(w.text, stop) for c in dict.fromkeys(r["context"] for r in sample_rows)
                   for w in split_words(c))
    counts = json.loads((aug_dir / "manifest.json").read_text())["candidates_per_eligible_word"]
    assert sum(counts.values()) == eligible
    assert {k.split(":")[0] for k in counts} <= {"mlm", "none"}  # --glove none
    assert max(int(k.split(":")[1]) for k in counts) <= 15  # --top-k


def test_stats_count_every_row_and_edit(aug_dir, sample_rows):
    stats = AugmentStats(sample=5, seed=0)
    for path in shard_paths(aug_dir):
        stats.add_shard(path)
    rows = all_rows(aug_dir)
    s = stats.summary()
    assert s["rows"] == len(rows) == MULTIPLIER * len(sample_rows) and s["questions"] == len(sample_rows)
    assert s["edits"] == sum(len(r["edits"]) for r in rows) == sum(stats.replaced.values())
    assert s["answers_broken"] == 0 and s["answers_checked"] > 0
    assert len(stats.sampled()) == 5 and all(len(g) == MULTIPLIER for g in stats.sampled())
    # The shared-word counts: a context edit of a word that the question also uses.
    shared = sum(1 for r in rows for e in r["edits"] if fold(e["original"]) in
                 {fold(w.text) for w in split_words(r["question"])})
    assert s["shared"]["question"][0] == shared


def test_a_context_word_the_question_spells_without_its_accent_counts_as_shared(tmp_path):
    """The question says "Beyonce", the context "Beyoncé": the same word, as --keep-question-words reads it."""
    from augment.shards import ShardWriter, shard_row

    row = shard_row({"id": "q_1", "orig_id": "q", "variant": 1, "question": "Who is Beyonce?",
                     "context": "Rihanna sang.", "answers": {"text": [], "answer_start": []},
                     "edits": [{"field": "context", "start": 0, "end": 7, "original": "Beyoncé",
                                "replacement": "Rihanna", "source": "glove"}]})
    writer = ShardWriter(tmp_path / "shard-00000.arrow")
    writer.write_rows([row])
    writer.commit()
    stats = AugmentStats(sample=0)
    stats.add_shard(tmp_path / "shard-00000.arrow")
    assert stats.summary()["shared"]["question"][0] == 1
    assert stats.shared_replaced == {"beyoncé": 1}


def test_the_viewer_outlines_a_context_word_the_question_spells_without_its_accent():
    """The table counts "Beyoncé" replaced in the context as a word the question ("Beyonce") uses; the viewer
    compared lower case only and left it without its red outline (2,049 of the 60,171 such edits of the subset
    x5 were shown plain)."""
    row = {"id": "q_1", "orig_id": "q", "variant": 1, "title": "t", "question": "Who is Beyonce?",
           "context": "Rihanna sang.", "answers": {"text": [], "answer_start": []}, "plausible_answers": None,
           "is_impossible": True, "edits": [{"field": "context", "start": 0, "end": 7, "original": "Beyoncé",
                                             "replacement": "Rihanna", "source": "glove"}]}
    assert '<mark class="rep glove inq"' in render_question([row])


def test_pair_table_stays_bounded(aug_dir, monkeypatch):
    from collections import Counter

    from augment.report import augment_stats

    monkeypatch.setattr(augment_stats, "PAIR_CAP", 40)
    stats = AugmentStats(sample=0)
    for path in shard_paths(aug_dir):
        stats.add_shard(path)
    assert stats.pairs_pruned > 0 and len(stats.pairs) <= 40
    exact = Counter((e["original"].lower(), e["replacement"].lower()) for r in all_rows(aug_dir) for e in r["edits"])
    assert all(c <= exact[pair] for pair, c in stats.pairs.items())  # a pruned pair restarts from 0
    word, n, _ = stats.top_replaced(1)[0]
    assert n == sum(c for (w, _), c in exact.items() if w == word)  # word counts are never pruned


def test_viewer_marks_each_replacement_with_its_original(aug_dir):
    rows = all_rows(aug_dir)[:MULTIPLIER]
    html = render_question(rows)
    marks = re.findall(r'<mark class="rep (mlm|glove)[^"]*" title="was: ([^"]*) \(', html)
    assert [m[1] for m in marks] == [e["original"] for r in rows for e in r["edits"]]
    assert html.count('class="variant"') == MULTIPLIER


def test_report_renders_in_a_browser(aug_dir, browser, tmp_path):
    written = (aug_dir / "report.html").read_text()  # augment-squad --report: the page, with the default sample
    assert written.startswith("<!DOCTYPE html>") and written.count('class="variant"') == 12 * MULTIPLIER
    page = tmp_path / "report.html"
    assert augment_report.main([str(aug_dir), "--sample", "4", "--seed", "1", "--out", str(page)]) == 0
    load_page(browser, page)
    assert browser.evaluate("document.querySelectorAll('.variant').length") == 4 * MULTIPLIER
    assert browser.evaluate("document.getElementById('shown').dataset.variants") == str(4 * MULTIPLIER)
    assert browser.evaluate("document.querySelectorAll('.plot svg').length") >= 4
    assert browser.evaluate("document.querySelectorAll('.chk[data-ok=\"0\"]').length") == 0
    header = browser.evaluate("document.body.innerText")
    assert "duplicate_id\t1" in header and f"rows written\t{3 * 65:,}" in header
    assert not blank(browser.screenshot())


def test_the_sample_is_seeded(aug_dir):
    def shown(seed):
        stats = AugmentStats(sample=3, seed=seed)
        for path in shard_paths(aug_dir):
            stats.add_shard(path)
        return [g[0]["orig_id"] for g in stats.sampled()]

    assert shown(3) == shown(3) and len(shown(3)) == 3
    assert shown(3) != shown(4)


@pytest.mark.parametrize("sample, words", [(1, "1 question drawn"), (2, "2 questions drawn")])
def test_the_viewer_counts_the_questions_drawn_in_words(aug_dir, sample, words):
    """A one-question sample read "1 questions drawn"."""
    from augment.report.augment_page import viewer_section

    stats = AugmentStats(sample=sample, seed=0)
    for path in shard_paths(aug_dir):
        stats.add_shard(path)
    assert f"<p>{words} with seed 0" in viewer_section(stats, seed=0)


def test_without_matplotlib_the_page_keeps_its_tables(aug_dir, monkeypatch):
    from augment.report import plots
    from augment.report.augment_page import build_report

    monkeypatch.setattr(plots, "available", lambda: False)
    html, _ = build_report(aug_dir, sample=1)
    assert "<svg" not in html and "pip install matplotlib" in html
    assert html.count('class="variant"') == MULTIPLIER and "rejects by reason" in html


def test_bad_directory_is_one_line_and_exit_2(tmp_path, capsys):
    assert augment_report.main([str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert err == (f"augment-report: error: {tmp_path / 'missing'}: no such directory; name an augment-squad "
                   "--out directory\n")


def test_a_file_of_the_run_is_named_a_file_with_its_folder(tmp_path, capsys):
    """augment-report DIR/manifest.json said 'no such directory' of a file that exists."""
    (tmp_path / "manifest.json").write_text("{}")
    assert augment_report.main([str(tmp_path / "manifest.json")]) == 2
    assert capsys.readouterr().err == (f"augment-report: error: {tmp_path / 'manifest.json'}: a file, not a "
                                       f"directory; name an augment-squad --out directory such as its folder "
                                       f"{tmp_path}\n")


def test_the_report_counts_eligible_words_with_the_runs_stopword_list(tmp_path):
    from augment.report.augment_page import run_stopwords

    assert "which" not in run_stopwords({"options": {"stopwords": "tinybert"}})[0]
    assert "which" in run_stopwords({})[0]  # written before the option: NLTK's list
    words, problem = run_stopwords({"options": {"stopwords": str(tmp_path / "moved.txt")}})
    assert words is None and problem.startswith(f"the run's --stopwords file {tmp_path / 'moved.txt'} is missing")


def test_a_relative_stopwords_file_is_found_from_another_directory_or_its_loss_is_said(tmp_path, sample_path,
                                                                                     monkeypatch, capsys):
    """The report reloaded --stopwords as typed: from another directory a relative path named nothing, and NLTK's
    list silently took its place, so the eligible-word rates were not the run's."""
    from augment.report.augment_page import build_report

    (tmp_path / "run").mkdir()
    stop = tmp_path / "run" / "stop.txt"
    stop.write_text("the\nof\n")  # far shorter than NLTK's: "was", "in", "and" are eligible
    out = tmp_path / "aug"
    monkeypatch.chdir(tmp_path / "run")
    assert augment_squad.main(["--input", str(sample_path), "--limit", "8", "--mlm", "none", "--multiplier", "2",
                               "--stopwords", "stop.txt", "--quiet", "--out", str(out)]) == 0
    at_run = build_report(out, sample=0)[1]
    monkeypatch.chdir(tmp_path)  # where "stop.txt" names nothing
    elsewhere = build_report(out, sample=0)[1]
    assert elsewhere["mean_rate"] == at_run["mean_rate"] and elsewhere["stopwords_problem"] is None
    stop.write_text("the\n")  # changed since the run: not its list any more
    capsys.readouterr()
    hashed = count_hashing(monkeypatch, stop.read_bytes())
    assert augment_report.main([str(out)]) == 0
    assert hashed == [1]  # it was hashed twice: once for the warning line, once more for the page
    err = capsys.readouterr().err
    warning = err.splitlines()[0]
    assert err.count("warning") == 1
    assert warning == (f"augment-report: warning: the run's --stopwords file {stop} has changed since the run (its "
                       "SHA-256 differs); eligible words are counted with NLTK's list, so the replacement rates "
                       "are not the run's")
    assert html.escape(warning.split("warning: ")[1]) in (out / "report.html").read_text()
    stop.unlink()
    assert "--stopwords file {} is missing".format(stop) in build_report(out, sample=0)[1]["stopwords_problem"]


def count_hashing(monkeypatch, data: bytes) -> list:
    """A one-item list that counts the SHA-256 digests made of ``data`` from now on."""
    import hashlib

    real, seen = hashlib.sha256, [0]

    def sha256(*args, **kwargs):
        seen[0] += bool(args) and args[0] == data
        return real(*args, **kwargs)

    monkeypatch.setattr(hashlib, "sha256", sha256)
    return seen


def test_augment_squad_report_says_the_stopword_warning_on_stderr_too(tmp_path, sample_path, monkeypatch, capsys):
    """augment-squad --report put the warning of a run's changed --stopwords file on the page only, where
    augment-report also prints it on stderr; here the file is edited while the run goes."""
    stop = tmp_path / "stop.txt"
    stop.write_text("the\nof\n")
    summarise = augment_squad.summarise

    def edited_meanwhile(*args, **kwargs):
        stop.write_text("the\n")
        return summarise(*args, **kwargs)

    monkeypatch.setattr(augment_squad, "summarise", edited_meanwhile)
    out = tmp_path / "aug"
    assert augment_squad.main(["--input", str(sample_path), "--limit", "4", "--mlm", "none", "--multiplier", "2",
                               "--stopwords", str(stop), "--report", "--quiet", "--out", str(out)]) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert warnings == [f"augment-squad: warning: the run's --stopwords file {stop} has changed since the run (its "
                        "SHA-256 differs); eligible words are counted with NLTK's list, so the replacement rates "
                        "are not the run's"]
    assert html.escape(warnings[0].split("warning: ")[1]) in (out / "report.html").read_text()


def fake_run_dir(tmp_path):
    """What augment-report's option check looks for (a shard and a manifest), nothing it could read."""
    d = tmp_path / "aug"
    d.mkdir(parents=True)
    (d / "shard-00000.arrow").write_bytes(b"")
    (d / "manifest.json").write_text("{}")
    return d


def test_out_that_is_a_directory_or_under_a_file_is_one_line_and_exit_2(tmp_path, capsys):
    d = fake_run_dir(tmp_path)
    assert augment_report.main([str(d), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err == f"augment-report: error: --out {tmp_path}: a directory; name a file such as " \
                  f"{tmp_path / 'report.html'}\n"
    under_a_file = d / "manifest.json" / "r.html"
    assert augment_report.main([str(d), "--out", str(under_a_file)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"--out {under_a_file}: its folder {d / 'manifest.json'}: it is a file" in err
    # A folder that does not exist yet, named with a trailing "/": the page was written as a file of that name.
    folder = f"{tmp_path / 'pages'}/"
    assert augment_report.main([str(d), "--out", folder]) == 2
    assert capsys.readouterr().err == (f"augment-report: error: --out {folder}: a directory (it ends in /); name a "
                                       f"file such as {tmp_path / 'pages' / 'report.html'}\n")
    assert not (tmp_path / "pages").exists()


def test_out_in_missing_folders_creates_them_and_a_failure_removes_them(aug_dir, tmp_path, capsys):
    page = tmp_path / "new" / "sub" / "r.html"
    assert augment_report.main([str(aug_dir), "--sample", "1", "--out", str(page)]) == 0
    assert page.read_text().startswith("<!DOCTYPE html>")
    broken = fake_run_dir(tmp_path / "broken")
    # An empty shard: one line naming it, and no empty folders left behind.
    assert augment_report.main([str(broken), "--out", str(tmp_path / "y" / "z" / "r.html")]) == 2
    assert f"{broken / 'shard-00000.arrow'}: truncated or corrupt Arrow file" in capsys.readouterr().err
    assert not (tmp_path / "y").exists()


def test_help_shows_each_default_once(capsys):
    with pytest.raises(SystemExit):
        augment_report.main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "(default: None)" not in text and text.count("(default: DIR/report.html)") == 1
    assert "seed of the sample of questions (default: 0)" in text and "(default: 12)" in text


def test_markup_in_the_data_is_text_and_a_long_word_wraps(tmp_path, browser):
    """Titles, ids, questions, contexts and answers are shown as text, whatever markup they hold, and a word
    wider than the page (a URL, here 3,000 letters) wraps inside the viewer: it widened the whole page to
    25,000 px, so every line of the report scrolled sideways."""
    from augment.shards import shard_row

    long = "x" * 3000
    original = (f"The <b>bold</b> &amp; \"quoted\" `${{x}}`\u2028 </script><!-- river {long} "
                "<img src=x onerror=alert(1)>.")
    answer = "<b>bold</b>"
    start = original.index("river")
    context = original[:start] + "stream" + original[start + len("river"):]  # one replacement after the answer
    row = shard_row({"id": 'q"><svg onload=alert(2)>_1', "orig_id": 'q"><svg onload=alert(2)>', "variant": 1,
                     "title": "</script><script>alert(3)</script>", "context": context,
                     "question": "Which <img src=x onerror=alert(4)> river?",
                     "answers": {"text": [answer], "answer_start": [original.index(answer)]},
                     "edits": [{"field": "context", "start": start, "end": start + 5, "original": "river",
                                "replacement": "stream", "source": "mlm"}]})
    page = tmp_path / "report.html"
    page.write_text(build_report_html(run_dir(tmp_path, [row])))
    load_page(browser, page)  # no console error (a broken script), no request (an injected image)
    tags = browser.evaluate("[...document.querySelectorAll('body *')].filter(e => !e.closest('svg'))"
                            ".map(e => e.tagName.toLowerCase())")
    assert {"img", "b", "svg"}.isdisjoint(tags) and tags.count("script") == 1
    assert browser.evaluate("document.querySelector('.question h3 .mono').textContent") == 'q"><svg onload=alert(2)>'
    assert browser.evaluate("[...document.querySelectorAll('.ans')].map(e => e.textContent)") == [
        "answer", answer, answer]  # the legend's, the original's, the variant's
    assert browser.evaluate("[...document.querySelectorAll('.variant mark.rep')].map(e => [e.textContent, e.title])"
                            ) == [["stream", "was: river (masked LM)"]]
    assert browser.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")


# The left edge, on screen, of where each of ``parts`` first occurs in the text of the first element
# ``sel`` that holds ``parts[0]`` (its text nodes, walked in order), or null when a part is not there.
WHERE = """(([sel, parts]) => {
  const el = [...document.querySelectorAll(sel)].find(e => e.textContent.includes(parts[0]));
  if (!el) return parts.map(p => null);
  const walk = document.createTreeWalker(el, NodeFilter.SHOW_TEXT), nodes = [];
  while (walk.nextNode()) nodes.push(walk.currentNode);
  const text = nodes.map(n => n.data).join("");
  return parts.map(p => {
    let at = text.indexOf(p);
    if (at < 0) return null;
    for (const n of nodes) {
      if (at < n.data.length) {
        const r = document.createRange(); r.setStart(n, at); r.setEnd(n, at + 1);
        return r.getBoundingClientRect().left;
      }
      at -= n.data.length;
    }
  });
})"""


def test_a_bidi_override_in_the_data_reverses_only_its_own_text(tmp_path, sample_rows, browser):
    """An unclosed U+202E RIGHT-TO-LEFT OVERRIDE in an id, an answer, a replacement or a path of the command
    reversed the rest of its block: the question's title and counts, "at 0: ✓" after the answer, the next
    replacement's count, the run's date. Each data text is isolated now, even one with its own U+2069 (which
    closes the isolate a browser puts around <bdi>) before the override."""
    from augment.shards import shard_row

    rlo, pdi = "\u202e", "\u2069"
    answer = f"Ann{pdi}{rlo} sang"
    context = answer + " by the river."
    at = context.index("river")
    rows = [shard_row({"id": f"q{rlo}1_{v}", "orig_id": f"q{rlo}1", "variant": v, "title": f"Songs{rlo} of old",
                       "context": context[:at] + word + ".", "question": "Who sang?",
                       "answers": {"text": [answer], "answer_start": [0]},
                       "edits": [{"field": "context", "start": at, "end": at + 5, "original": "river",
                                  "replacement": word, "source": "mlm"}]})
            for v, word in ((1, f"stream{pdi}{rlo}"), (2, "brook"))]
    manifest = {"command": ["augment-squad", "--input", f"in{rlo}.json"], "created": "2025-01-02", "version": "9.9"}
    page = tmp_path / "report.html"
    page.write_text(build_report_html(run_dir(tmp_path, rows, manifest)))
    load_page(browser, page)

    def in_order(sel, *parts):
        xs = browser.evaluate(f"{WHERE}({json.dumps([sel, parts])})")
        assert None not in xs and xs == sorted(xs), (sel, parts, xs)

    in_order(".question h3", "q", "Songs", "(answerable")
    in_order(".variant[data-variant='1'] .checks", "answer", "Ann", "at 0:", "\u2713")
    in_order("p.muted", "augment-squad", "2025-01-02", "tinyaug 9.9")
    in_order("tr", "river", "stream", "(1), ", "brook")


def run_dir(tmp_path, rows, manifest=None):
    """An augment-squad directory of one shard holding ``rows``, and ``manifest`` as its manifest.json."""
    from augment.shards import ShardWriter

    d = tmp_path / "aug"
    d.mkdir()
    writer = ShardWriter(d / "shard-00000.arrow")
    writer.write_rows(rows)
    writer.commit()
    if manifest is not None:
        (d / "manifest.json").write_text(json.dumps(manifest))
    return d


def build_report_html(directory) -> str:
    from augment.report.augment_page import build_report

    return build_report(directory, sample=1)[0]


def test_the_command_is_shown_as_a_shell_would_read_it(tmp_path, sample_rows):
    """The header joined the run's argv with spaces, so a path with a space, a quote or a ";" showed as
    another command: copied into a shell, "--stopwords /tmp/my list;rm x" runs rm."""
    import shlex

    from augment.shards import original_row

    command = ["augment-squad", "--input", "data/it's here.json", "--stopwords", "/tmp/my list;rm x", "--out", "a b"]
    text = build_report_html(run_dir(tmp_path, [original_row(sample_rows[0])], {"command": command}))
    shown = html.unescape(re.search(r'<p class="muted"><bdi>(.*?)</bdi> &middot;', text).group(1))
    assert shlex.split(shown) == command


def test_a_run_that_rejected_everything_is_not_told_to_rerun_for_candidate_counts(tmp_path, sample_rows, tiny_mlm_path,
                                                                                 capsys):
    """With every example rejected the manifest records no candidate counts ({}), and the page said the run
    had not recorded them and to rerun with --overwrite, which gives the same {} again."""
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({**sample_rows[0], "question": None}) + "\n")
    out = tmp_path / "aug"
    assert augment_squad.main(["--input", str(source), "--mlm", tiny_mlm_path, "--glove", "none", "--quiet",
                               "--out", str(out)]) == 2
    capsys.readouterr()
    assert augment_report.main([str(out)]) == 0
    text = (out / "report.html").read_text()
    assert "not recorded by this run" not in text and "the run counted no eligible words" in text
    assert "0 variants of 0 questions" in text and "empty_question" in text
    assert "no answer spans to check" in text and "answer spans exact" not in text  # was "all 0 ... exact"


@pytest.mark.parametrize("mlm, shown", [("none", False), ("None", False), ("models/tiny-mlm", True)])
def test_the_header_names_the_masked_lm_mode_only_for_a_run_with_a_masked_lm(tmp_path, sample_rows, mlm, shown):
    """--mlm none runs no masked LM, yet the configuration table said "mlm-mode exact" (the option's default; a
    run of an earlier version could even record --mlm-mode multi beside --mlm none)."""
    from augment.shards import original_row

    options = {"mlm": mlm, "mlm_mode": "multi", "glove": "default"}
    text = build_report_html(run_dir(tmp_path, [original_row(sample_rows[0])], {"options": options}))
    config = re.search(r"<h3>configuration</h3>(.*?)<details>", text, re.S).group(1)
    assert ("mlm-mode" in config) == shown and "glove" in config, config


@pytest.mark.parametrize("name", [".", ".."])
def test_a_run_named_dot_or_dot_dot_is_titled_by_its_folder(tmp_path, sample_rows, monkeypatch, name):
    """`augment-report .` from inside the run titled the page "tinyaug report: " and headed it "augmentation
    report: .": Path(".").name is "". Both name the run's folder, as they do for `augment-report data/aug`."""
    from augment.shards import original_row

    d = run_dir(tmp_path, [original_row(sample_rows[0])])
    (d / "sub").mkdir()
    monkeypatch.chdir(d if name == "." else d / "sub")
    text = build_report_html(name)
    assert "<title>tinyaug report: aug</title>" in text and "<h1>augmentation report: <bdi>aug</bdi></h1>" in text
