#!/usr/bin/env python

# Stand-in for the converter DeepSpeed copies beside its checkpoints: it gathers the ZeRO
# partitions of the fp32 master weights into one state_dict.
# Usage: python zero_to_fp32.py . pytorch_model.bin

import argparse
import glob
import os

import torch


def partitions(folder, tag):
    pattern = os.path.join(folder, tag, "*_optim_states.pt")
    return sorted(glob.glob(pattern))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("checkpoint_dir")
    parser.add_argument("output_file")
    parser.add_argument("-t", "--tag", default=None)
    args = parser.parse_args()
    tag = args.tag
    if tag is None:
        with open(os.path.join(args.checkpoint_dir, "latest")) as f:
            tag = f.read().strip()
    states = [torch.load(p, map_location="cpu", weights_only=False) for p in partitions(args.checkpoint_dir, tag)]
    flat = torch.cat([s["optimizer_state_dict"]["single_partition_of_fp32_groups"][0] for s in states])
    torch.save({"flat_fp32": flat}, args.output_file)


if __name__ == "__main__":
    main()
