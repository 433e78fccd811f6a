"""augment.transfers: copies the host waits for only when it reads them."""
import torch

from augment.transfers import to_device, to_host, wait


def test_on_the_cpu_nothing_is_copied_or_waited_for():
    x = torch.arange(6).view(2, 3)
    assert to_device(x, "cpu") is x and to_device(x, torch.device("cpu")) is x
    (a, b), ready = to_host(x, x + 1, device="cpu")
    assert ready is None and a is x and torch.equal(b, x + 1)
    wait(None)


def test_on_cuda_the_copies_are_queued_and_one_event_after_them_is_waited_for(monkeypatch):
    """Posing as CUDA (the tensors stay on the CPU): each copy to the host is non-blocking, and the event that
    :func:`wait` synchronizes is recorded after all of them, so reading after it reads whole copies."""
    from torch.overrides import TorchFunctionMode

    seen = []

    class Event:
        def record(self):
            seen.append("record")

        def synchronize(self):
            seen.append("synchronize")

    class Copies(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            if func is torch.Tensor.to:
                seen.append(("to", args[1], (kwargs or {}).get("non_blocking")))
            return func(*args, **(kwargs or {}))

    monkeypatch.setattr(torch.cuda, "Event", Event)
    x = torch.arange(3)
    with Copies():
        (a, b), ready = to_host(x, x * 2, device="cuda:0")
    wait(ready)
    assert seen == [("to", "cpu", True), ("to", "cpu", True), "record", "synchronize"]
    assert torch.equal(a, x) and torch.equal(b, x * 2)


def test_the_event_is_recorded_on_the_stream_of_the_gpu_the_copies_come_from(monkeypatch):
    """The copies of a tensor on cuda:1 are queued on cuda:1's current stream. A bare Event.record() took the
    current GPU's stream (cuda:0 in a process that never made cuda:1 current, as augment-squad's ranks), so
    waiting on it did not wait for the copies, and the host could read them half written."""
    class OnSecondGpu:  # a tensor on cuda:1, as much of one as to_host uses
        device = torch.device("cuda:1")

        def to(self, where, non_blocking):
            return self

    recorded = []

    class Event:
        def record(self, stream=None):
            recorded.append(stream)

    monkeypatch.setattr(torch.cuda, "Event", Event)
    monkeypatch.setattr(torch.cuda, "current_stream", lambda device=None: f"current stream of {device}")
    to_host(OnSecondGpu(), device="cuda:1")
    assert recorded == ["current stream of cuda:1"]
