"""The reference method for ``mlm_mode="exact"``, kept deliberately plain and separate from the
library: for every eligible single-piece word, one forward pass of the full model (LM head over every
position) over the whole context, or over a window of the model's length centred on the word, then
the top-k of the vocabulary after dropping special, unused, continuation and non-alphabetic tokens (for
byte-level BPE, bare tokens without a spaced form: pieces of words) and the word itself (compared without accents or case: "cafe" is "café"). Words the tokenizer maps
to its unknown token are not single in-vocabulary pieces and get no candidates. Byte-level BPE judges a word
by its form after a space wherever it stands, in NFC: a word without a space before it, or typed with decomposed
accents, is the masked LM's when " word" is one token, its own pieces then replaced by one mask."""
import unicodedata

import torch

from augment.segment import english_stopwords, is_eligible, split_words


def _plain(s):
    return "".join(c for c in unicodedata.normalize("NFD", s) if not unicodedata.combining(c)).casefold()


def reference_candidates(model, tokenizer, text, top_k):
    words = split_words(text)
    sw = english_stopwords()
    enc = tokenizer(text, return_offsets_mapping=True, return_special_tokens_mask=True, verbose=False)
    ids, offs, special = enc["input_ids"], enc["offset_mapping"], enc["special_tokens_mask"]
    content = [i for i, s in enumerate(special) if s == 0]
    prefix, suffix = ids[:content[0]], ids[content[-1] + 1:]
    max_len = min(model.config.max_position_embeddings, tokenizer.model_max_length)
    if model.config.model_type == "roberta":
        max_len = min(max_len, model.config.max_position_embeddings - model.config.pad_token_id - 1)
    room = max_len - len(prefix) - len(suffix)
    spaced_bpe = tokenizer(" a", add_special_tokens=False)["input_ids"] != tokenizer("a", add_special_tokens=False)["input_ids"]
    vocab = tokenizer.batch_decode([[i] for i in range(model.config.vocab_size)])
    special = set(tokenizer.all_special_ids)
    after_space = {s for i, s in enumerate(vocab) if i not in special and s.startswith(" ")}
    out = {}
    for wi, w in enumerate(words):
        if not is_eligible(w.text, sw):
            continue
        covering = [t for t in content if offs[t][0] < w.end and offs[t][1] > w.start]
        want_space = spaced_bpe and vocab[ids[covering[0]]].startswith(" ")  # the word's own token: "Ġword"
        if spaced_bpe and (len(covering) > 1 or not want_space):  # pieces exactly on the word, " word" one token
            if (offs[covering[0]][0], offs[covering[-1]][1]) != (w.start, w.end):
                continue
            nfc = unicodedata.normalize("NFC", w.text)
            if want_space and nfc == w.text:  # already its form after a space: several pieces
                continue
            after_space_ids = tokenizer(" " + nfc, add_special_tokens=False)["input_ids"]
            if len(after_space_ids) != 1 or after_space_ids[0] == tokenizer.unk_token_id:
                continue
        elif len(covering) != 1 or tuple(offs[covering[0]]) != (w.start, w.end):
            continue
        if tokenizer.unk_token_id in [ids[t] for t in covering]:
            continue
        c, n = covering[0] - content[0], len(covering)  # index among the content tokens, pieces masked
        centre = c + (n - 1) // 2
        a = 0 if len(content) <= room else min(max(centre - room // 2, 0), len(content) - room)
        window = [ids[t] for t in content][a:a + room]
        window[c - a:c - a + n] = [tokenizer.mask_token_id]
        inp = torch.tensor([prefix + window + suffix])
        with torch.no_grad():
            logits = model(input_ids=inp).logits[0, len(prefix) + c - a]
        cands = []
        for tid in torch.argsort(logits, descending=True, stable=True).tolist():
            s = vocab[tid]
            if tid in special:
                continue
            if want_space:
                ok = s.startswith(" ") and s[1:].isalpha()
            else:  # byte-level BPE: a bare token is a word only if the word also exists after a space
                ok = s.isalpha() and (not spaced_bpe or " " + s in after_space)
            if ok and _plain(s.strip()) != _plain(w.text) and s.strip().lower() not in {c.lower() for c in cands}:
                cands.append(s.strip())
            if len(cands) == top_k:
                break
        out[wi] = cands
    return out
