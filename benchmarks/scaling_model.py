"""The scaling model of docs/scaling.md: predicted data-parallel speed-up on many machines.

Inputs (measured here with bench_distribute.py, or given): one process's
training-step time at the per-rank batch, the model's size; the network's
latency and bandwidth. Per step, a rank computes for `t_c` and then takes
part in one allreduce of the gradient (4 bytes per parameter), which MPI runs
either as a ring or as Rabenseifner's reduce-scatter + allgather (recursive
halving and doubling), whichever is faster:

    ring:         2 (p - 1) a + 2 (p - 1) / p * n / b + (p - 1) / p * n / g
    Rabenseifner: 2 log2(p) a + 2 (p - 1) / p * n / b + (p - 1) / p * n / g

with `a` the latency per message, `b` the bandwidth, `g` the speed of the
local sums, `n` the gradient's bytes. numnet does not overlap the allreduce
with the backward pass, so a step takes `t_c + t_allreduce`, and p machines
each with batch B process `p * B` samples in that time: the speed-up over one
machine with batch B is `p * t_c(B) / (t_c(B) + t_allreduce)`. With the
global batch G fixed instead, it is `t_c(G) / (t_c(G / p) + t_allreduce)`;
`t_c(b)` is the measured step time, or a straight line fitted through the
measurements (a fixed cost per step plus a cost per row).

    python benchmarks/scaling_model.py --steps 32:1.9,64:3.3,128:6.1,256:11.6 \
        [--wide-steps 32:30,64:58,128:115,256:228] [--sum-gbs 4]
"""

import argparse
import math

NETWORKS = {
    # latency per message (s), usable bandwidth (bytes/s)
    "10 Gb/s Ethernet (TCP)": (30e-6, 1.1e9),
    "100 Gb/s (InfiniBand / RoCE, RDMA)": (3e-6, 11e9),
}
MACHINES = (4, 16, 64)


def allreduce_seconds(nbytes, machines, latency, bandwidth, sum_speed):
    if machines == 1:
        return 0.0
    share = (machines - 1) / machines
    moved = 2 * share * nbytes / bandwidth + share * nbytes / sum_speed
    ring = 2 * (machines - 1) * latency + moved
    halving = 2 * math.ceil(math.log2(machines)) * latency + moved
    return min(ring, halving)


def parse_steps(text):
    """"32:1.9,128:6.1" -> {32: 0.0019, 128: 0.0061} (per-rank batch -> step seconds)."""
    pairs = (item.split(":") for item in text.split(","))
    return {int(batch): float(ms) / 1e3 for batch, ms in pairs}


def linear_fit(steps):
    """(t0, k): step time ~ t0 + k * batch, least squares over the measured batches."""
    batches = sorted(steps)
    mean_b = sum(batches) / len(batches)
    mean_t = sum(steps[b] for b in batches) / len(batches)
    k = sum((b - mean_b) * (steps[b] - mean_t) for b in batches) / \
        sum((b - mean_b) ** 2 for b in batches)
    return mean_t - k * mean_b, k


def tables(name, steps, params, sum_speed, batch=128, global_batch=256):
    nbytes = 4 * params
    t0, k = linear_fit(steps)
    compute = lambda b: steps.get(b, t0 + k * b)  # noqa: E731 (measured, else the fit)
    head = "| network | " + " | ".join(f"{p} machines" for p in MACHINES) + " |"
    rule = "|---|" + "---|" * len(MACHINES)
    out = [f"**{name}**: {params:,} parameters ({nbytes / 1e6:.2f} MB of gradient); one "
           f"process's step: {1e3 * t0:.2f} ms + {1e6 * k:.1f} us per row "
           f"({1e3 * compute(batch):.2f} ms at batch {batch}).", "",
           f"Each machine with batch {batch} (the global batch grows with the machines): "
           "speed-up over one machine, allreduce time per step, efficiency", "", head, rule]
    for network, (latency, bandwidth) in NETWORKS.items():
        cells = []
        for machines in MACHINES:
            t_ar = allreduce_seconds(nbytes, machines, latency, bandwidth, sum_speed)
            speedup = machines * compute(batch) / (compute(batch) + t_ar)
            cells.append(f"{speedup:.1f} x ({1e3 * t_ar:.2f} ms, {100 * speedup / machines:.0f} %)")
        out.append(f"| {network} | " + " | ".join(cells) + " |")
    out += ["", f"The global batch fixed at {global_batch} (each machine's batch "
            f"{global_batch} / machines): speed-up over one machine with batch {global_batch}",
            "", head, rule]
    for network, (latency, bandwidth) in NETWORKS.items():
        cells = []
        for machines in MACHINES:
            t_ar = allreduce_seconds(nbytes, machines, latency, bandwidth, sum_speed)
            per_rank = global_batch / machines
            speedup = compute(global_batch) / (compute(per_rank) + t_ar)
            cells.append(f"{speedup:.1f} x (batch {per_rank:g})")
        out.append(f"| {network} | " + " | ".join(cells) + " |")
    out += ["", "The allreduce takes longer than the compute once each machine's batch is "
            "below:", ""]
    for network, (latency, bandwidth) in NETWORKS.items():
        parts = []
        for machines in MACHINES:
            t_ar = allreduce_seconds(nbytes, machines, latency, bandwidth, sum_speed)
            rows = (t_ar - t0) / k
            parts.append(f"{rows:.0f} rows on {machines} machines" if rows >= 1 else
                         f"no batch on {machines} machines (it takes less than a step's fixed "
                         "cost)")
        out.append(f"- {network}: " + ", ".join(parts))
    return "\n".join(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", required=True,
                        help="W1's step time by per-rank batch, e.g. 32:1.9,128:6.1 (ms)")
    parser.add_argument("--params", type=int, default=266_610)
    parser.add_argument("--wide-steps", help="the same for the 10x wider model")
    parser.add_argument("--wide-params", type=int, default=5_366_010)
    parser.add_argument("--sum-gbs", type=float, default=4.0,
                        help="GB/s of the local float32 sums (one operand's bytes per second)")
    args = parser.parse_args()
    sum_speed = args.sum_gbs * 1e9
    print(tables("W1, the textbook classifier", parse_steps(args.steps), args.params,
                 sum_speed))
    if args.wide_steps:
        print()
        print(tables("10 x wider (Dense 3000, 1000)", parse_steps(args.wide_steps),
                     args.wide_params, sum_speed))


if __name__ == "__main__":
    main()
