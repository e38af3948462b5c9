"""Where training runs: the Distribution record that every backend's strategy returns."""

import contextlib
from dataclasses import dataclass, field


@dataclass
class Distribution:
    """Where training runs: the scope to build the model in and how the batch is split."""

    name: str
    num_replicas: int = 1
    num_hosts: int = 1
    host_index: int = 0
    supports_jit: bool = True
    scope_factory: object = field(default=contextlib.nullcontext, repr=False)
    engine: object = field(default=None, repr=False)

    def scope(self):
        return self.scope_factory()

    def per_host_batch(self, global_batch_size):
        check_global_batch(global_batch_size, self.num_replicas, self.num_hosts)
        return global_batch_size // self.num_hosts


def check_global_batch(global_batch_size, num_replicas, num_hosts=1):
    if isinstance(global_batch_size, bool) or not isinstance(global_batch_size, int):
        raise TypeError(f"The batch size must be an integer. Received: {global_batch_size!r}")
    if global_batch_size < 1 or global_batch_size % num_replicas:
        raise ValueError(
            f"The global batch size must be a positive multiple of the number of replicas "
            f"({num_replicas}) so that every replica gets the same share. Received: "
            f"batch_size={global_batch_size}; try "
            f"{max(num_replicas, global_batch_size // num_replicas * num_replicas)}."
        )
    if global_batch_size % num_hosts:
        raise ValueError(
            f"The global batch size must divide across the {num_hosts} hosts. Received: "
            f"batch_size={global_batch_size}"
        )
