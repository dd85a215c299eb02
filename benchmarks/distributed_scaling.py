"""distributed_scaling.py — predicted data-parallel scaling of Taipan across hosts, from
measurements taken on one machine (docs/DISTRIBUTED.md explains the model and the inputs).

Each host runs one rank on all its cores and computes its share of every global batch in
`--step-seconds` (measured with `taipan bench train`). After the backward pass the gradients
(4 bytes a parameter) are summed with a ring allreduce over `--buckets` messages: each bucket
crosses the slowest link 2(R−1)/R times its size, in 2(R−1) steps that each pay the per-message
latency `--latency-us` (measured with `taipan bench allreduce` over TCP). Without overlap a step
takes compute + exchange; tokens/s = R · tokens per host step / that; efficiency is compute /
(compute + exchange). The exchange dominates where it exceeds the compute.

Usage: distributed_scaling.py --parameters 129135360 --step-seconds 3.4 --tokens-per-step 512 \
           --latency-us 40 [--bucket-bytes 16777216] [--gbits 10 25] [--hosts 2 4 8 …]
"""

import argparse
import math


def exchange_seconds(ranks, gradient_bytes, bucket_bytes, link_bytes_per_second, latency):
    """Ring allreduce of the gradients in buckets across `ranks` hosts."""
    if ranks == 1:
        return 0.0
    buckets = math.ceil(gradient_bytes / bucket_bytes)
    transfer = 2 * (ranks - 1) / ranks * gradient_bytes / link_bytes_per_second
    return transfer + buckets * 2 * (ranks - 1) * latency


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parameters", type=int, required=True)
    parser.add_argument("--step-seconds", type=float, required=True, help="one host's compute per step")
    parser.add_argument("--tokens-per-step", type=int, required=True, help="tokens one host computes per step")
    parser.add_argument("--latency-us", type=float, required=True, help="per-message latency between hosts")
    parser.add_argument("--bucket-bytes", type=int, default=16 << 20)
    parser.add_argument("--gbits", type=float, nargs="+", default=[10, 25])
    parser.add_argument("--hosts", type=int, nargs="+", default=[1, 2, 4, 8, 16, 32, 64, 128, 256])
    arguments = parser.parse_args()
    gradient_bytes = 4 * arguments.parameters
    latency = arguments.latency_us * 1e-6
    single = arguments.tokens_per_step / arguments.step_seconds
    print(f"gradients {gradient_bytes / 1e6:.0f} MB in {math.ceil(gradient_bytes / arguments.bucket_bytes)} buckets; "
          f"one host: {arguments.step_seconds:.2f} s a step of {arguments.tokens_per_step} tokens ({single:.0f} tokens/s)\n")
    header = "| hosts | " + " | ".join(
        f"{g:g} Gb/s: exchange s | tokens/s | efficiency" for g in arguments.gbits) + " |"
    print(header)
    print("|" + "---|" * (1 + 3 * len(arguments.gbits)))
    for ranks in arguments.hosts:
        cells = []
        for gbits in arguments.gbits:
            exchange = exchange_seconds(ranks, gradient_bytes, arguments.bucket_bytes, gbits * 1e9 / 8, latency)
            step = arguments.step_seconds + exchange
            cells += [f"{exchange:.3f}", f"{ranks * arguments.tokens_per_step / step:,.0f}", f"{arguments.step_seconds / step:.0%}"]
        print(f"| {ranks} | " + " | ".join(cells) + " |")
    for gbits in arguments.gbits:
        limit = exchange_seconds(256, gradient_bytes, arguments.bucket_bytes, gbits * 1e9 / 8, latency)
        print(f"\n{gbits:g} Gb/s: the exchange takes {limit:.2f} s a step at 256 hosts; it dominates once a host "
              f"computes its share in less than that ({arguments.tokens_per_step * limit / arguments.step_seconds:.0f} tokens "
              f"a step at this host's speed, or hosts {arguments.step_seconds / limit:.1f}× faster at this batch)")


if __name__ == "__main__":
    main()
