"""Copies between the host and a CUDA device that the host does not wait for until it needs their values.

On a GPU the host queues kernels and the device runs them later. A plain copy waits: ``.cpu()`` of a device tensor
returns once everything queued before it has run, and ``torch.tensor(data, device="cuda")`` (a copy from pageable
memory) waits for the stream too. Inside a batch loop each such wait leaves the device idle while the host prepares
the next batch. So the loops of the masked LM (:mod:`augment.mlm`), the teacher-logit cache
(:mod:`augment.distill.teacher_cache`) and the evaluation (:func:`augment.qa.evaluate.window_logits`) queue batch
i+1 before they read batch i's results:

    >>> import torch
    >>> (host,), ready = to_host(torch.arange(3), device="cpu")   # on CUDA: queued, with an event
    >>> # ... queue the next batch here ...
    >>> wait(ready); host.numpy()                                  # only now does the host wait
    array([0, 1, 2])

Copies to the host on CUDA go into pinned memory (``non_blocking=True`` allocates it), from torch's caching host
allocator, which reuses a buffer only after its copy's event. On any other device these are plain synchronous
copies (none at all on the CPU), so a CPU run computes and reads exactly what it did before.
"""
from __future__ import annotations


def kind(device) -> str:
    """The type of ``device`` (``"cuda:1"``, a ``torch.device``): ``"cuda"``, ``"cpu"``, ... Read from the name, not
    asked of ``torch.device()``, which a TorchFunctionMode sees (the tests pose as CUDA through one)."""
    return device.type if hasattr(device, "type") else str(device).split(":")[0]


def to_device(tensor, device):
    """``tensor`` (on the host) on ``device``. On CUDA the copy is queued from pinned memory and not waited for;
    on the CPU the tensor itself is returned."""
    if kind(device) == "cuda":
        return tensor.pin_memory().to(device, non_blocking=True)
    return tensor if kind(device) == "cpu" else tensor.to(device)


def to_host(*tensors, device):
    """``tensors`` (all on ``device``) copied to the host, and the event to :func:`wait` for before reading them
    (None off CUDA, where the copies are done on return). The event is recorded right after the copies, on their
    stream: waiting for it waits for them and what was queued before them, not for what is queued later."""
    import torch

    cuda = kind(device) == "cuda"
    hosts = tuple(t.to("cpu", non_blocking=cuda) for t in tensors)
    ready = None
    if cuda:
        ready = torch.cuda.Event()
        source = tensors[0].device
        if source.type == "cuda":
            # The copies were queued on the current stream of their tensors' GPU. A bare record() takes the current
            # GPU's instead: another one where the work runs on cuda:1 without making it current (augment-squad's
            # ranks, a model on a second GPU), and waiting on it would not wait for the copies.
            ready.record(torch.cuda.current_stream(source))
        else:  # tensors on the host already (the tests pose as CUDA): no stream of theirs
            ready.record()
    return hosts, ready


def wait(ready) -> None:
    """Block until the copies of :func:`to_host` that gave ``ready`` are on the host (at once when None)."""
    if ready is not None:
        ready.synchronize()
