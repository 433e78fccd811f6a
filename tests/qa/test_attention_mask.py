"""augment.qa.attention_mask: the 4D padding mask that transformers uses as given."""
import pytest
import torch

from augment.qa.attention_mask import mask_4d, probe_lengths, takes_4d_mask


@pytest.mark.parametrize("dtype", [None, torch.float32, torch.bfloat16])
def test_the_4d_mask_is_the_one_transformers_builds_from_the_2d_mask(dtype):
    """Boolean for SDPA (dtype None), additive for eager attention: value for value what transformers' own mask
    builders make of the 2D mask, so that a model given it computes what it computed before."""
    from transformers.masking_utils import bidirectional_mask_function, eager_mask, sdpa_mask

    keep = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]]).bool()                  # (B, T)
    build = sdpa_mask if dtype is None else eager_mask
    options = {} if dtype is None else {"dtype": dtype}
    want = build(batch_size=2, q_length=5, kv_length=5, mask_function=bidirectional_mask_function,
                 attention_mask=keep, **options)                                      # (B, 1, T, T)
    got = mask_4d(keep, dtype)
    assert got.shape == want.shape == (2, 1, 5, 5) and got.dtype == want.dtype
    assert torch.equal(got, want)


def test_a_model_takes_the_4d_mask_only_where_its_outputs_are_the_2d_masks():
    """A model that fails on the 4D mask (DeBERTa: a shape error) or gives other outputs with it does not take it."""
    keep = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0]]).bool()                             # (B, T)
    outputs = torch.arange(8.0).reshape(2, 4)[keep]

    def two_d_only(mask):
        if mask.dim() != 2:
            raise RuntimeError("The size of tensor a (4) must match the size of tensor b (2)")
        return outputs

    assert takes_4d_mask(lambda mask: outputs, keep, mask_4d(keep))
    assert not takes_4d_mask(two_d_only, keep, mask_4d(keep))
    assert not takes_4d_mask(lambda mask: outputs + mask.dim(), keep, mask_4d(keep))


def test_the_4d_mask_is_tried_past_a_local_window_the_config_declares():
    """Within its local window ModernBERT's attention is global, so the 4D mask (which drops the window) gives the
    2D mask's outputs there: a probe as short as the first batch told nothing. Past the window it does; a model
    without one, or whose positions end before it, is tried at the one length."""
    from transformers import BertConfig, LongformerConfig, MistralConfig, ModernBertConfig

    assert probe_lengths(ModernBertConfig(local_attention=128), 8, 8192) == [8, 130]
    assert probe_lengths(ModernBertConfig(local_attention=128), 384, 8192) == [384]  # past it already
    assert probe_lengths(ModernBertConfig(local_attention=128), 8, 64) == [8, 64]   # as long as the positions go
    assert probe_lengths(LongformerConfig(attention_window=[32, 512]), 8) == [8, 514]  # one per layer
    assert probe_lengths(MistralConfig(sliding_window=None), 8) == [8]  # none: an unset window
    assert probe_lengths(BertConfig(), 8, 512) == [8]
