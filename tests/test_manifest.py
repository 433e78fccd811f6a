"""Bookkeeping of the output directory: configuration checks, completeness, totals."""
import json
import os
import time

from augment import manifest


def test_new_or_empty_directory_has_no_mismatch(tmp_path):
    assert manifest.config_mismatch(tmp_path / "new", {"seed": 0}) is None
    assert manifest.config_mismatch(tmp_path, {"seed": 0}) is None


def test_changed_option_is_named_with_old_and_new_value(tmp_path):
    manifest.prepare(tmp_path, {"seed": 0, "multiplier": 20}, wipe=False)
    assert manifest.config_mismatch(tmp_path, {"seed": 0, "multiplier": 20}) is None
    msg = manifest.config_mismatch(tmp_path, {"seed": 1, "multiplier": 20})
    assert "seed: 0 -> 1" in msg and "multiplier" not in msg


def test_foreign_directory_is_a_mismatch(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    assert "holds no earlier run" in manifest.config_mismatch(tmp_path, {"seed": 0})


def test_wipe_removes_only_this_tools_files(tmp_path):
    manifest.prepare(tmp_path, {"seed": 0}, wipe=False)
    for name in ("shard-00000.arrow", "manifest.json", "state.json", ".shard-00001.arrow.tmp-123", "notes.txt"):
        (tmp_path / name).write_text("x")
    manifest.write_record(tmp_path, 0, {"rows": 1})
    manifest.prepare(tmp_path, {"seed": 1}, wipe=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".progress", "notes.txt"]
    assert json.loads((tmp_path / ".progress" / "config.json").read_text()) == {"seed": 1}
    assert not manifest.record_path(tmp_path, 0).exists()


def test_a_shard_is_complete_only_with_its_record(tmp_path):
    manifest.prepare(tmp_path, {}, wipe=False)
    (tmp_path / manifest.shard_name(0)).write_text("x")
    assert not manifest.is_complete(tmp_path, 0)  # killed between the rename and the record
    manifest.write_record(tmp_path, 0, {"rows": 1})
    assert manifest.is_complete(tmp_path, 0)
    assert manifest.read_records(tmp_path, 2) == ([{"rows": 1}], [1])


def test_counts_and_time_shares_add_up():
    recs = [{"read": 10, "rows": 27, "paragraphs": 1, "rejected": {"duplicate_id": 1},
             "timers": {"augment": 6.0, "lm": 4.0, "glove": 1.0, "write": 2.0}},
            {"read": 5, "rows": 12, "paragraphs": 1, "rejected": {"duplicate_id": 1, "bad_type": 1},
             "timers": {"augment": 2.0, "lm": 1.0, "write": 0.0}}]
    c = manifest.counts(recs)
    assert (c["read"], c["written"], c["rejected_total"]) == (15, 39, 3)
    assert c["rejected"] == {"bad_type": 1, "duplicate_id": 2}
    assert manifest.time_shares(recs) == {"glove": 0.1, "lm": 0.5, "sample": 0.2, "write": 0.2}


def test_model_fingerprint_is_reused_while_files_are_unchanged(tmp_path, monkeypatch):
    """No re-hashing of unchanged weights on every start; any rewrite (new mtime) hashes again."""
    import os

    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    (model / "model.safetensors").write_bytes(b"weights" * 1000)
    cache = tmp_path / "cache.json"
    first = manifest.model_fingerprint(model, cache=cache)
    calls = []
    real = manifest._hash_model_files
    monkeypatch.setattr(manifest, "_hash_model_files", lambda files: calls.append(files) or real(files))
    assert manifest.model_fingerprint(model, cache=cache) == first and calls == []
    weights = model / "model.safetensors"
    weights.write_bytes(b"WEIGHTS" * 1000)  # same size, new bytes, new mtime
    os.utime(weights, ns=(1, 1))
    second = manifest.model_fingerprint(model, cache=cache)
    assert len(calls) == 1 and second != first
    cache.write_text("not json")  # a broken cache is ignored, not an error
    assert manifest.model_fingerprint(model, cache=cache) == second


def test_model_fingerprint_is_hashed_again_after_new_bytes_with_the_old_size_and_times(tmp_path):
    """cp -p of other weights of the same size onto the file writes into its inode and restores a modification
    time, which can be the old one: the stamp (size, mtime, inode) stayed and the old digest was served."""
    import os
    import shutil

    model = tmp_path / "model"
    model.mkdir()
    weights = model / "model.safetensors"
    weights.write_bytes(b"weights" * 1000)
    cache = tmp_path / "cache.json"
    first, st = manifest.model_fingerprint(model, cache=cache), weights.stat()
    other = tmp_path / "other.safetensors"
    other.write_bytes(b"WEIGHTS" * 1000)
    os.utime(other, ns=(st.st_atime_ns, st.st_mtime_ns))
    shutil.copy2(other, weights)  # cp -p: into the same inode, with the source's times
    now = weights.stat()
    assert (now.st_size, now.st_mtime_ns, now.st_ino) == (st.st_size, st.st_mtime_ns, st.st_ino)
    assert manifest.model_fingerprint(model, cache=cache) == manifest._hash_model_files([weights]) != first


def test_a_fingerprint_remembered_without_change_times_is_hashed_again_to_the_same_digest(tmp_path, monkeypatch):
    """Entries an earlier version wrote (size, mtime, inode) are not trusted; the digest, which runs record and
    compare, is the same."""
    model = _model_folder(tmp_path)
    cache = tmp_path / "cache.json"
    digest = manifest.model_fingerprint(model, cache=cache)
    known = json.loads(cache.read_text())
    for entry in known.values():
        entry["stamp"] = [s[:4] for s in entry["stamp"]]
    cache.write_text(json.dumps(known))
    calls = []
    real = manifest._hash_model_files
    monkeypatch.setattr(manifest, "_hash_model_files", lambda files: calls.append(files) or real(files))
    assert manifest.model_fingerprint(model, cache=cache) == digest and len(calls) == 1
    assert manifest.model_fingerprint(model, cache=cache) == digest and len(calls) == 1


def _model_folder(tmp_path):
    """A model folder of the three files a fingerprint reads first: config, vocabulary, weights."""
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    (model / "vocab.txt").write_text("[PAD]\n")
    (model / "model.safetensors").write_bytes(b"weights")
    return model


def test_model_fingerprint_without_weights_covers_config_and_tokenizer_only(tmp_path):
    """distill-train's resumed student takes its weights from the checkpoint: its folder is fingerprinted by the
    files that build the model and cut the windows. Both digests of one folder stay cached side by side."""
    model = _model_folder(tmp_path)
    cache = tmp_path / "cache.json"
    full, bare = (manifest.model_fingerprint(model, cache=cache, weights=w) for w in (True, False))
    assert full != bare
    (model / "model.safetensors").write_bytes(b"other weights")
    assert manifest.model_fingerprint(model, cache=cache, weights=False) == bare
    assert manifest.model_fingerprint(model, cache=cache) != full
    (model / "config.json").write_text('{"hidden_dropout_prob": 0.3}')
    assert manifest.model_fingerprint(model, cache=cache, weights=False) != bare
    assert len(json.loads(cache.read_text())) == 2



def test_model_fingerprint_cache_drops_folders_that_are_gone(tmp_path):
    """Every model folder ever fingerprinted (each deleted run's student, the tests' temporary models) stayed in
    the cache file; an entry goes when its folder has gone, at the next fingerprint written."""
    import shutil

    cache = tmp_path / "cache.json"
    for name in ("a", "b", "c"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.json").write_text(f'{{"name": "{name}"}}')
        manifest.model_fingerprint(tmp_path / name, cache=cache)
        manifest.model_fingerprint(tmp_path / name, cache=cache, weights=False)
    assert len(json.loads(cache.read_text())) == 6
    shutil.rmtree(tmp_path / "a")
    (tmp_path / "b" / "config.json").write_text('{"name": "b2"}')
    manifest.model_fingerprint(tmp_path / "b", cache=cache)
    kept = json.loads(cache.read_text())
    assert sorted(kept) == sorted(str((tmp_path / n).resolve()) + s for n in "bc" for s in ("", "#without-weights"))

def test_lm_counters_sum_over_shards_with_fill_and_padding():
    recs = [{"lm_counters": {"forward_passes": 2, "sequences": 100, "tokens": 900, "padded_tokens": 1000,
                             "capacity": 128, "host_transfers": 2, "masked_sites": 300}},
            {"lm_counters": {"forward_passes": 1, "sequences": 60, "tokens": 450, "padded_tokens": 500,
                             "capacity": 64, "host_transfers": 1, "masked_sites": 60}}]
    got = manifest.lm_counters(recs)
    assert got["forward_passes"] == 3 and got["fill"] == round(160 / 192, 4)
    assert got["padding_share"] == 0.1 and got["host_transfers_per_pass"] == 1.0
    assert manifest.lm_counters([{}]) is None


def _claim_all(out, run_started, n, ready, results):
    claims = manifest.BlockClaims(out, run_started, world=2)
    ready.wait()  # both processes start asking at once: a real race for every block
    results.put([k for k in range(n) if claims.take(k)])


def test_block_claims_give_each_block_to_exactly_one_process(tmp_path):
    import multiprocessing

    killed = manifest.BlockClaims(tmp_path, 1.0, world=2)  # an earlier run, killed: its claims stayed
    killed.create()
    assert killed.take(0)
    claims = manifest.BlockClaims(tmp_path, 12.5, world=2)
    claims.create()  # rank 0, before any process asks: the killed run's claims go
    assert not killed.dir.exists() and claims.dir.is_dir()
    ctx = multiprocessing.get_context("spawn")
    ready, results = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_claim_all, args=(tmp_path, 12.5, 300, ready, results)) for _ in range(2)]
    for p in procs:
        p.start()
    ready.set()
    taken = [results.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    assert sorted(taken[0] + taken[1]) == list(range(300))  # every block once, none twice
    # Each process reports what it did; rank 0 reads the reports, then drops the run's folder.
    claims.report(1, manifest.span_of([{"block": 4, "started": 10.0, "seconds": 2.0},
                                       {"block": 1, "started": 5.0, "seconds": 1.0}]))
    claims.report(0, manifest.span_of([]))
    assert claims.reports() == [{"rank": 0, "blocks": [], "started": None, "ended": None},
                                {"rank": 1, "blocks": [1, 4], "started": 5.0, "ended": 12.0}]
    claims.drop()
    assert not list((tmp_path / manifest.PROGRESS).glob("claims-*"))
    # A process that does not see rank 0's folder yet (a network filesystem's cache) makes it and claims.
    unseen = manifest.BlockClaims(tmp_path, 33.0, world=2)
    assert not unseen.dir.exists() and unseen.take(7) and not unseen.take(7)
    # One process takes every block, writing nothing.
    alone = manifest.BlockClaims(tmp_path / "single", 1.0, world=1)
    alone.create()
    alone.report(0, manifest.span_of([]))
    assert alone.take(0) and alone.take(0) and alone.reports() == [] and not (tmp_path / "single").exists()


def test_one_process_resuming_a_killed_multi_process_run_removes_its_claims(tmp_path):
    """The claims of a killed torchrun run stayed in .progress/ for good when one process resumed it."""
    killed = manifest.BlockClaims(tmp_path, 1.0, world=2)
    killed.create()
    assert killed.take(0)
    alone = manifest.BlockClaims(tmp_path, 2.0, world=1)
    alone.create()
    assert not list((tmp_path / manifest.PROGRESS).glob("claims-*"))


def test_drop_damaged_removes_shards_that_differ_from_their_records(tmp_path):
    """A truncated shard, or one of the same size with other bytes, loses its record (and its file), so the
    run rebuilds it; an intact one stays complete."""
    from augment.shards import ShardWriter

    manifest.prepare(tmp_path, {}, wipe=False)
    for k in range(3):
        with ShardWriter(tmp_path / manifest.shard_name(k)) as w:
            w.write_rows([{"id": f"q{k}", "orig_id": f"q{k}", "variant": 1, "title": "", "context": "c",
                           "question": "q", "answers": {"text": [], "answer_start": []},
                           "plausible_answers": {"text": [], "answer_start": []}, "is_impossible": True,
                           "edits": []}])
            manifest.write_record(tmp_path, k, {"block": k, **w.commit()})
    assert manifest.drop_damaged(tmp_path) == []
    one, two = tmp_path / manifest.shard_name(1), tmp_path / manifest.shard_name(2)
    size = one.stat().st_size
    one.write_bytes(one.read_bytes()[:100])
    two.write_bytes(two.read_bytes()[:-1] + b"?")  # same size
    # A rewrite leaves a later mtime; the clock behind mtimes ticks every few ms, so a test this fast says so.
    os.utime(two, ns=(two.stat().st_atime_ns, two.stat().st_mtime_ns + 10**9))
    assert manifest.drop_damaged(tmp_path) == [
        f"shard-00001.arrow does not match its record (it has 100 bytes, its record {size}); rebuilding it",
        "shard-00002.arrow does not match its record (its SHA-256 differs from its record's); rebuilding it"]
    assert [manifest.is_complete(tmp_path, k) for k in range(3)] == [True, False, False]
    assert not one.exists() and not two.exists()
    manifest.record_path(tmp_path, 0).unlink()  # a shard without its record: rebuilt as well, and said so
    assert manifest.drop_damaged(tmp_path) == ["shard-00000.arrow has no record in .progress/; rebuilding it"]


def _one_row_shard(out, k: int) -> dict:
    from augment.shards import ShardWriter

    with ShardWriter(out / manifest.shard_name(k)) as w:
        w.write_rows([{"id": f"q{k}", "orig_id": f"q{k}", "variant": 1, "title": "", "context": "c", "question": "q",
                       "answers": {"text": [], "answer_start": []},
                       "plausible_answers": {"text": [], "answer_start": []}, "is_impossible": True, "edits": []}])
        record = {"block": k, **w.commit()}
    manifest.write_record(out, k, record)
    return record


def test_shards_with_their_recorded_size_and_times_are_not_hashed_again(tmp_path, monkeypatch):
    """Resumes and reruns of a finished run check every shard (SQuAD 2.0 x20 would be some 6.5 GB to hash, an
    estimate). A shard whose size, mtime and ctime are those its record holds is taken as its bytes; verify=True
    hashes all the same, and a record of an older run (no mtime) is hashed."""
    from augment.shards import ShardWriter

    manifest.prepare(tmp_path, {}, wipe=False)
    with ShardWriter(tmp_path / manifest.shard_name(0)) as w:
        w.write_rows([{"id": "q", "orig_id": "q", "variant": 1, "title": "", "context": "c", "question": "q",
                       "answers": {"text": [], "answer_start": []},
                       "plausible_answers": {"text": [], "answer_start": []}, "is_impossible": True, "edits": []}])
        record = {"block": 0, **w.commit()}
    shard = tmp_path / record["file"]
    st = shard.stat()
    assert (record["bytes"], record["mtime_ns"], record["ctime_ns"]) == (st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    hashed = []
    real = manifest.sha256_file
    monkeypatch.setattr(manifest, "sha256_file", lambda path: hashed.append(path) or real(path))
    assert manifest.shard_problem(tmp_path, record) is None and hashed == []
    assert manifest.shard_problem(tmp_path, record, verify=True) is None and hashed == [shard]
    older = {k: v for k, v in record.items() if k != "mtime_ns"}
    assert manifest.shard_problem(tmp_path, older) is None and len(hashed) == 2


def test_new_bytes_under_the_recorded_size_and_mtime_are_hashed(tmp_path):
    """cp -p, tar -x and rsync -t write into the shard and then give it the source's mtime, which can be the
    recorded one: the size and mtime alone kept those bytes as the shard's rows on resume. The ctime, which no
    call sets back, sends them to the hash. A record of an earlier run (no ctime) is trusted as it was."""
    manifest.prepare(tmp_path, {}, wipe=False)
    record = _one_row_shard(tmp_path, 0)
    shard = tmp_path / record["file"]
    time.sleep(0.02)  # past the coarse clock behind ctimes (a few ms), as any real copy is
    stamp = shard.stat()
    shard.write_bytes(shard.read_bytes()[:-1] + b"?")
    os.utime(shard, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    assert (shard.stat().st_size, shard.stat().st_mtime_ns) == (record["bytes"], record["mtime_ns"])
    assert manifest.shard_problem(tmp_path, record) == "its SHA-256 differs from its record's"
    earlier = {k: v for k, v in record.items() if k != "ctime_ns"}
    assert manifest.shard_problem(tmp_path, earlier) is None


def test_a_copied_out_is_hashed_once_then_trusted(tmp_path, monkeypatch):
    """cp -a or mv of the whole --out to another disk gives every shard a new ctime: the resume hashes them, keeps
    them (nothing rebuilt) and records the new times, so the resume after it hashes nothing."""
    import shutil

    first = tmp_path / "first"
    manifest.prepare(first, {}, wipe=False)
    records = [_one_row_shard(first, k) for k in range(2)]
    time.sleep(0.02)  # past the coarse clock behind ctimes (a few ms), as any real copy is
    out = shutil.copytree(first, tmp_path / "copy")  # copy2: the mtimes kept, new ctimes
    hashed = []
    real = manifest.sha256_file
    monkeypatch.setattr(manifest, "sha256_file", lambda path: hashed.append(path.name) or real(path))
    assert manifest.drop_damaged(out) == [] and hashed == ["shard-00000.arrow", "shard-00001.arrow"]
    again = manifest.read_records(out, 2)[0]
    assert [r["ctime_ns"] for r in again] == [(out / r["file"]).stat().st_ctime_ns for r in records]
    assert [{**r, "ctime_ns": 0} for r in again] == [{**r, "ctime_ns": 0} for r in records]  # nothing else changed
    assert manifest.drop_damaged(out) == [] and len(hashed) == 2


def test_model_fingerprint_covers_the_tokenizers_configuration(tmp_path):
    """tokenizer_config.json decides how text is cut (do_lower_case, model_max_length), as special_tokens_map.json
    and added_tokens.json decide its special tokens: a folder whose tokenizer now lower-cases no more was the same
    model. An earlier tinyaug's digest of the same folder (those files left out) is still had, for a resume."""
    model = _model_folder(tmp_path)
    cache = tmp_path / "cache.json"
    assert manifest.earlier_model_fingerprint(model) is None  # no tokenizer configuration: as before
    (model / "tokenizer_config.json").write_text('{"do_lower_case": true}')
    full, bare = (manifest.model_fingerprint(model, cache=cache, weights=w) for w in (True, False))
    assert manifest.earlier_model_fingerprint(model) == manifest._hash_model_files(
        [model / "config.json", model / "model.safetensors", model / "vocab.txt"]) != full
    assert manifest.earlier_model_fingerprint(model, weights=False) == manifest._hash_model_files(
        [model / "config.json", model / "vocab.txt"]) != bare
    (model / "tokenizer_config.json").write_text('{"do_lower_case": false}')
    assert manifest.model_fingerprint(model, cache=cache) != full
    assert manifest.model_fingerprint(model, cache=cache, weights=False) != bare
    bare = manifest.model_fingerprint(model, cache=cache, weights=False)
    (model / "special_tokens_map.json").write_text('{"mask_token": "[MASK]"}')
    assert manifest.model_fingerprint(model, cache=cache, weights=False) != bare


def test_lm_section_of_shards_without_the_padded_pass_counter_says_the_syncs_are_unknown():
    """A shard recorded before padded_passes was counted: a partial sum would understate the uncounted syncs."""
    recs = [{"lm_counters": {"forward_passes": 2, "sequences": 10, "capacity": 128, "tokens": 90,
                             "padded_tokens": 100, "host_transfers": 2, "padded_passes": 1}},
            {"lm_counters": {"forward_passes": 3, "sequences": 10, "capacity": 192, "tokens": 90,
                             "padded_tokens": 100, "host_transfers": 3}}]
    two_d = {"attention": "eager", "attention_loaded_with": None, "attention_mask": "2d"}
    got = manifest.lm_section(recs, two_d)
    assert got["padded_passes"] is got["uncounted_syncs_at_most"] is None
    assert "an unknown number of passes were padded" in got["note"]
    assert manifest.lm_section(recs[:1], two_d)["uncounted_syncs_at_most"] == 1
    assert "note" not in manifest.lm_section(recs, {**two_d, "attention_mask": "4d"})
    assert manifest.lm_section(recs, None) == manifest.lm_counters(recs)  # no LM set-up to record


def test_lm_counters_of_shards_without_the_device_copy_counter_say_it_is_unknown():
    """A shard recorded before copies to the device were counted: a partial sum and its ratio would understate
    them, so both are None; shards that all have the counter sum as the other counters do."""
    new = {"forward_passes": 2, "sequences": 10, "capacity": 128, "tokens": 90, "padded_tokens": 100,
           "host_transfers": 2, "device_transfers": 2, "padded_passes": 1}
    old = {k: v for k, v in new.items() if k != "device_transfers"}
    got = manifest.lm_counters([{"lm_counters": new}, {"lm_counters": old}])
    assert got["device_transfers"] is got["device_transfers_per_pass"] is None and got["host_transfers"] == 4
    got = manifest.lm_counters([{"lm_counters": new}, {"lm_counters": new}, {}])
    assert (got["device_transfers"], got["device_transfers_per_pass"]) == (4, 1.0)
