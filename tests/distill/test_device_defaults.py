"""augment.distill.device_defaults: what distill-train chooses by device where no option says."""
from augment.distill.device_defaults import (GROUPED_COMPILE_MULTIPLE, default_attention_form, fused_adamw,
                                             length_multiple, loader_options)


def test_training_batches_are_padded_to_the_resolved_multiple():
    """--pad-to-multiple-of when given; otherwise by device, --compile and --group-by-length."""

    def multiple(device="cpu", compile=None, group=False, given=None):
        return length_multiple(device, given, compile, group, 384)
    assert multiple() == 1 and multiple("cuda") == 16 and multiple(group=True) == 1
    assert multiple("cuda", "reduce-overhead") == multiple(compile="default") == 384  # one shape
    assert multiple("cuda", "reduce-overhead", group=True) == GROUPED_COMPILE_MULTIPLE == 64
    assert multiple("cuda", "default", group=True, given=32) == multiple(given=32) == 32


def test_cuda_alone_gets_loader_workers_pinned_memory_and_fused_adamw():
    """The CUDA-only choices, by device type (no GPU here): on the CPU the training has the cores, and there is
    no device to copy to."""
    assert loader_options("cuda", None, 1, 16) == {"num_workers": 4, "pin_memory": True, "persistent_workers": True}
    assert loader_options("cuda", None, 2, 2)["num_workers"] == 1  # at most the cores per process, at least 1
    assert loader_options("cuda", None, 8, None)["num_workers"] == 1
    # (DataLoader refuses persistent workers where there are none)
    assert loader_options("cpu", None, 1, 16) == {"num_workers": 0, "pin_memory": False, "persistent_workers": False}
    assert loader_options("cpu", 2, 1, 16)["persistent_workers"]
    assert not loader_options("cuda", 0, 1, 16)["persistent_workers"]
    assert loader_options("cpu", 3, 1, 16)["num_workers"] == 3 and loader_options("cuda", 0, 1, 16)["num_workers"] == 0
    assert fused_adamw("cuda") and not fused_adamw("cpu") and not fused_adamw("mps")


def test_auto_attention_loss_is_factored_on_the_cpu_alone():
    """Measured faster on the CPU (BENCHMARKS.md 6d); not yet on a GPU, which keeps the direct form."""
    assert default_attention_form("cpu") == "factored" and default_attention_form("cuda") == "direct"
