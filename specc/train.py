"""`python -m specc.train CONFIG ...`: the trainer as a module, for torchrun:

torchrun --nproc-per-node 8 -m specc.train generated/efficientnet-b0/train.yaml --data DIR
"""

from specc.cli.train import train

if __name__ == "__main__":
    train()
