"""PyTorch CPU twin of `pipeline bench --case s`: the comparison side of issue 16's speed target.

Same shape and work per step as the engine's case s: SASRec with d 64, 2 pre-norm transformer blocks (1 head,
causal attention, d->d ReLU d->d feed-forward), learned positional embedding, final layer norm, full softmax over
1,682 items (id 0 = padding), batch 256 sequences of t = 20 ids (19 predicted positions each), cross-entropy over
every position, Adam. Synthetic Zipf(1) ids as the engine's bench. Prints one JSON object with tokens_per_s
(tokens = predicted positions, as the engine counts them) and the per-step times.

Run: python3 bench/sasrec_torch.py --threads 2 [--steps 10 --warmup 3]
On a shared machine set OMP_WAIT_POLICY=PASSIVE as well: PyTorch's OpenMP threads otherwise spin at every barrier
and a descheduled partner stalls both (2 threads then ran 3-10x slower than 1 here).
(PyTorch 2.x CPU wheel from PyPI in a venv; see README's speed section for the measured figures.)
"""
import argparse
import json
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.ln1 = nn.LayerNorm(d)
        self.attn = nn.MultiheadAttention(d, heads, batch_first=True)
        self.ln2 = nn.LayerNorm(d)
        self.ff1 = nn.Linear(d, d)
        self.ff2 = nn.Linear(d, d)

    def forward(self, x, mask):
        a = self.ln1(x)
        x = x + self.attn(a, a, a, attn_mask=mask, need_weights=False)[0]
        return x + self.ff2(F.relu(self.ff1(self.ln2(x))))


class SASRec(nn.Module):
    def __init__(self, items, d, blocks, heads, positions=50):
        super().__init__()
        self.item = nn.Embedding(items, d, padding_idx=0)
        self.pos = nn.Embedding(positions, d)
        self.blocks = nn.ModuleList(Block(d, heads) for _ in range(blocks))
        self.ln = nn.LayerNorm(d)
        self.out = nn.Linear(d, items)

    def forward(self, ids):
        T = ids.shape[1]
        pos = torch.arange(T - 1, -1, -1, device=ids.device)  # counted from the end, as the engine
        x = self.item(ids) + self.pos(pos)
        mask = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
        for b in self.blocks:
            x = b(x, mask)
        return self.out(self.ln(x))


def zipf_batches(items, batch, length, count, seed=2020):
    rng = np.random.default_rng(seed)
    p = 1.0 / np.arange(1, items)
    p /= p.sum()
    return [torch.from_numpy(rng.choice(np.arange(1, items), size=(batch, length), p=p)).long() for _ in range(count)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--d", type=int, default=64)
    ap.add_argument("--blocks", type=int, default=2)
    ap.add_argument("--heads", type=int, default=1)
    ap.add_argument("--items", type=int, default=1682)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--length", type=int, default=20)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    model = SASRec(a.items, a.d, a.blocks, a.heads)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    batches = zipf_batches(a.items, a.batch, a.length, 4)
    times, cpu = [], 0.0
    for s in range(a.warmup + a.steps):
        ids = batches[s % len(batches)]
        t0, c0 = time.perf_counter(), time.process_time()
        opt.zero_grad(set_to_none=True)
        logits = model(ids[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, a.items), ids[:, 1:].reshape(-1), ignore_index=0)
        loss.backward()
        opt.step()
        dt = time.perf_counter() - t0
        if s >= a.warmup:
            times.append(dt)
            cpu += time.process_time() - c0
    times.sort()
    median = times[len(times) // 2]
    tokens = a.batch * (a.length - 1)
    print(json.dumps({"case": "s-pytorch", "torch": torch.__version__, "threads": torch.get_num_threads(),
                      "tokens_per_s": tokens / median, "step_ms_median": median * 1000,
                      "step_ms_min": times[0] * 1000, "steps": a.steps,
                      # CPU seconds of all threads per step (as the engine's cpu_s_per_step): the cost that
                      # other processes' contention does not inflate, except for spin-waiting threads.
                      "cpu_s_per_step": cpu / a.steps, "d": a.d, "depth": a.blocks,
                      "batch": a.batch, "items": a.items,
                      "parameters": sum(p.numel() for p in model.parameters())}, sort_keys=True))


if __name__ == "__main__":
    main()
