"""Made the traces in this folder: one DDP step of a three-layer MLP on two gloo ranks (CPU).

Profiled with ``record_shapes`` and an ExecutionTraceObserver (torch 2.13.0, CPU). Run ``python make_traces.py``,
then ``gzip -9`` rank 0's two files and rename them ``ddp_mlp_gloo2_kineto_rank0.json.gz`` and
``ddp_mlp_gloo2_et_rank0.json.gz``.
"""

import os

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.profiler import ExecutionTraceObserver, ProfilerActivity, profile


def step(ddp, opt, x, y):
    opt.zero_grad()
    torch.nn.functional.cross_entropy(ddp(x), y).backward()
    opt.step()


def worker(rank, world):
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = "29533"
    dist.init_process_group("gloo", rank=rank, world_size=world)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(256, 512), torch.nn.ReLU(), torch.nn.Linear(512, 512),
                                torch.nn.ReLU(), torch.nn.Linear(512, 10))
    ddp = torch.nn.parallel.DistributedDataParallel(model, bucket_cap_mb=0.5)
    opt = torch.optim.SGD(ddp.parameters(), lr=0.1)
    x, y = torch.randn(64, 256), torch.randint(0, 10, (64,))
    for _ in range(2):  # warm up
        step(ddp, opt, x, y)
    et = ExecutionTraceObserver().register_callback(f"et_rank{rank}.json")
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True, execution_trace_observer=et) as prof:
        step(ddp, opt, x, y)
    prof.export_chrome_trace(f"kineto_rank{rank}.json")
    dist.destroy_process_group()


if __name__ == "__main__":
    mp.spawn(worker, args=(2,), nprocs=2)
