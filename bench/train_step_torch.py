#!/usr/bin/env python3
"""PyTorch baseline for bench/train-step.bench.ts: the same network, weights, batch and step.

    node --import tsx bench/train-step-export.ts /tmp/unet unet   # on a machine with Node
    python3 bench/train_step_torch.py /tmp/unet [--device cpu|cuda|all] [--steps N] [--compile]

The export folder holds the forward graph as JSON (graph.json), its weights and one batch as raw
float32 (weights.bin, inputs.bin) and alignrun's own results on that data (inputs.json). This
script runs the graph node by node with the equivalent torch operation, so both sides compute the
same function with the same weights; it first checks that (loss, gradient norms and the losses
of the first AdamW steps against alignrun's), then times a training step (forward, mean-square
loss, backward, gradient norm, AdamW) and the forward pass alone (no_grad), median of N steps.

Prints JSON result lines in bench/run.ts's format. Needs numpy and torch only.
"""

import argparse
import json
import math
import os
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F


def load(folder):
    with open(os.path.join(folder, "graph.json")) as f:
        graph = json.load(f)
    with open(os.path.join(folder, "inputs.json")) as f:
        spec = json.load(f)

    def tensors(bin_name, entries):
        raw = np.fromfile(os.path.join(folder, bin_name), dtype="<f4")
        out = {}
        for e in entries:
            n = int(np.prod(e["dims"])) if e["dims"] else 1
            start = e["offset"] // 4
            out[e["name"]] = raw[start : start + n].reshape(e["dims"]).copy()
        return out

    return graph, spec, tensors("weights.bin", spec["weights"]), tensors("inputs.bin", spec["inputs"])


class Graph:
    """The exported ONNX graph, evaluated op by op with torch (the ops alignrun's bench nets use)."""

    def __init__(self, graph, device):
        self.nodes = graph["nodes"]
        self.output_names = graph["outputs"]
        self.device = device
        # Constants once, on the device; integer constants (shapes, axes) as Python lists.
        self.consts = {}
        for n in self.nodes:
            if n["op"] == "Constant":
                t = n["attrs"]["value"]["tensor"]
                if t["dtype"] in ("int64", "int32"):
                    self.consts[n["outputs"][0]] = [int(v) for v in t["data"]]
                else:
                    data = np.array(t["data"], dtype=np.float32).reshape(t["dims"])
                    self.consts[n["outputs"][0]] = torch.from_numpy(data).to(device)

    def __call__(self, env):
        v = dict(self.consts)
        v.update(env)
        for n in self.nodes:
            op = n["op"]
            if op == "Constant":
                continue
            ins = [v[i] if i else None for i in n["inputs"]]
            a = n["attrs"]
            v[n["outputs"][0]] = self.run(op, ins, a, n)
        return {o: v[o] for o in self.output_names}

    @staticmethod
    def run(op, x, a, n):
        if op == "Add":
            return x[0] + x[1]
        if op == "Sub":
            return x[0] - x[1]
        if op == "Mul":
            return x[0] * x[1]
        if op == "Div":
            return x[0] / x[1]
        if op == "Sigmoid":
            return torch.sigmoid(x[0])
        if op in ("Sin", "Cos", "Exp", "Tanh", "Sqrt", "Neg", "Relu"):
            return getattr(torch, op.lower())(x[0])
        if op == "Identity":
            return x[0]
        if op == "MatMul":
            return torch.matmul(x[0], x[1])
        if op == "Gemm":
            A = x[0].t() if a.get("transA") else x[0]
            B = x[1].t() if a.get("transB") else x[1]
            y = a.get("alpha", 1.0) * (A @ B)
            return y + a.get("beta", 1.0) * x[2] if len(x) > 2 and x[2] is not None else y
        if op == "Transpose":
            perm = a.get("perm") or list(reversed(range(x[0].dim())))
            return x[0].permute(*perm)
        if op == "Reshape":
            shape = list(x[1])
            # ONNX: 0 copies the input's dim (allowzero 0), -1 is inferred.
            shape = [x[0].shape[i] if d == 0 else d for i, d in enumerate(shape)]
            return x[0].reshape(shape)
        if op == "Shape":
            return list(x[0].shape)
        if op == "Unsqueeze":
            y = x[0]
            for ax in sorted(d % (y.dim() + len(x[1])) for d in x[1]):
                y = y.unsqueeze(ax)
            return y
        if op == "Concat":
            return torch.cat(x, dim=a.get("axis", 0))
        if op == "Softmax":
            return torch.softmax(x[0], dim=a.get("axis", -1))
        if op == "Conv":
            return conv(x, a)
        if op == "InstanceNormalization":
            return F.instance_norm(x[0], weight=x[1], bias=x[2], eps=a.get("epsilon", 1e-5))
        if op == "LayerNormalization":
            axis = a.get("axis", -1) % x[0].dim()
            bias = x[2] if len(x) > 2 else None
            return F.layer_norm(x[0], x[0].shape[axis:], x[1], bias, a.get("epsilon", 1e-5))
        if op == "Resize":
            mode = a.get("mode", "nearest")
            scales = x[2].tolist() if hasattr(x[2], "tolist") else list(x[2])
            ok = (
                mode == "nearest"
                and a.get("coordinate_transformation_mode") == "asymmetric"
                and a.get("nearest_mode") == "floor"
                and all(float(s).is_integer() for s in scales)
            )
            if not ok:
                raise SystemExit(f"Resize node {n['name']}: only nearest/asymmetric/floor with integer scales.")
            return F.interpolate(x[0], scale_factor=[float(s) for s in scales[2:]], mode="nearest")
        raise SystemExit(f"Op {op} (node {n['name']}) is not implemented here; add it to Graph.run.")


def conv(x, a):
    inp, w = x[0], x[1]
    bias = x[2] if len(x) > 2 else None
    sp = w.dim() - 2
    if a.get("auto_pad", "NOTSET") not in ("NOTSET", "VALID"):
        raise SystemExit("Conv auto_pad SAME_*: not implemented here; export with explicit pads.")
    pads = a.get("pads") or [0] * (2 * sp)
    begin, end = pads[:sp], pads[sp:]
    if begin != end:
        # torch pads symmetrically: pad the input explicitly (last axis first for F.pad).
        flat = []
        for i in reversed(range(sp)):
            flat += [begin[i], end[i]]
        inp = F.pad(inp, flat)
        begin = [0] * sp
    fn = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[sp]
    return fn(
        inp,
        w,
        bias,
        stride=a.get("strides") or 1,
        padding=begin,
        dilation=a.get("dilations") or 1,
        groups=a.get("group", 1),
    )


def build(graph, spec, weights, inputs, device):
    g = Graph(graph, device)
    # Copies: on the CPU from_numpy shares memory, and AdamW would train the exported weights.
    params = {k: torch.nn.Parameter(torch.tensor(v, device=device)) for k, v in weights.items()}
    feeds = {k: torch.tensor(v, device=device) for k, v in inputs.items()}
    trainable = [params[k] for k in spec["trainable"]]
    opt = spec["optimizer"]
    optimizer = torch.optim.AdamW(
        trainable,
        lr=opt["lr"],
        betas=(opt["beta1"], opt["beta2"]),
        eps=opt["eps"],
        weight_decay=opt["weightDecay"],
        foreach=True,
    )
    out_name = spec["loss"]["output"]

    def forward():
        return g({**feeds, **params})[out_name]

    def step():
        optimizer.zero_grad(set_to_none=True)
        err = forward()
        loss = torch.mean(err * err)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(trainable, math.inf)
        optimizer.step()
        return loss.detach(), norm

    return params, forward, step


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def check(graph, spec, weights, inputs, device):
    """alignrun's loss, gradient norms and per-step losses, recomputed here."""
    params, forward, step = build(graph, spec, weights, inputs, device)
    err = forward()
    loss = torch.mean(err * err)
    loss.backward()
    ref = spec["reference"]
    rel = lambda a, b: abs(a - b) / max(abs(a), abs(b), 1e-12)
    worst_grad = max(
        rel(float(params[k].grad.norm()), ref["gradNorms"][k]) for k in spec["trainable"] if ref["gradNorms"][k] > 1e-6
    )
    params2, _, step2 = build(graph, spec, weights, inputs, device)
    losses = [float(step2()[0]) for _ in ref["lossesPerStep"]]
    worst_step = max(rel(a, b) for a, b in zip(losses, ref["lossesPerStep"]))
    return {
        "device": str(device),
        "lossRelDiff": rel(float(loss.detach()), ref["loss"]),
        "worstGradNormRelDiff": worst_grad,
        "worstStepLossRelDiff": worst_step,
        "losses": losses,
        "alignrunLosses": ref["lossesPerStep"],
    }


def timed(fn, device, steps, warmup=3):
    for _ in range(warmup):
        fn()
    sync(device)
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        fn()
        sync(device)
        times.append((time.perf_counter() - t0) * 1000)
    return times


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("folder", help="output folder of bench/train-step-export.ts")
    ap.add_argument("--device", default="all", choices=["cpu", "cuda", "all"])
    ap.add_argument("--steps", type=int, default=12, help="timed steps (at least 10)")
    ap.add_argument("--compile", action="store_true", help="also time torch.compile of the step")
    ap.add_argument("--tolerance", type=float, default=1e-3, help="largest relative difference to alignrun")
    args = ap.parse_args()
    if args.steps < 10:
        ap.error("--steps must be at least 10")
    # fp32 throughout, as alignrun computes: no TF32 in matmuls or cuDNN convolutions.
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    graph, spec, weights, inputs = load(args.folder)
    devices = []
    if args.device in ("cpu", "all"):
        devices.append(torch.device("cpu"))
    if args.device in ("cuda", "all") and torch.cuda.is_available():
        torch.backends.cudnn.benchmark = True
        devices.append(torch.device("cuda"))
    elif args.device == "cuda":
        raise SystemExit("CUDA is not available to this PyTorch; run with --device cpu.")
    title = "tiny UNet" if spec["network"].startswith("tiny UNet") else "conv+attention block"
    batch = next(iter(spec["inputShapes"].values()))[0]
    flops = spec["flops"]
    failed = False
    for device in devices:
        c = check(graph, spec, weights, inputs, device)
        ok = max(c["lossRelDiff"], c["worstGradNormRelDiff"], c["worstStepLossRelDiff"]) <= args.tolerance
        failed = failed or not ok
        print(json.dumps({"check": "same function as alignrun", "ok": ok, **c}), flush=True)
        name = f"PyTorch {torch.__version__} {device.type}"
        if device.type == "cpu":
            name += f", {torch.get_num_threads()} threads"
        else:
            name += f", {torch.cuda.get_device_name(device)}"
        _, forward, step = build(graph, spec, weights, inputs, device)
        variants = [("eager", step, forward)]
        if args.compile:
            try:
                variants.append(("torch.compile", torch.compile(step), torch.compile(forward)))
            except Exception as e:  # noqa: BLE001 - report and go on with eager
                print(json.dumps({"compile": "failed", "error": str(e)[:300]}), flush=True)
        for mode, step_fn, fwd_fn in variants:
            with torch.no_grad():
                fwd = statistics.median(timed(fwd_fn, device, args.steps))
            ms = statistics.median(timed(step_fn, device, args.steps))
            label = f"{name}, {mode}"
            print(
                json.dumps(
                    {
                        "metric": f"{title} train step (fwd+bwd+AdamW), batch {batch}, {label}",
                        "value": ms,
                        "unit": "ms",
                        "baseline": {"name": "forward only (no_grad)", "value": fwd},
                        "ratio": ms / fwd,
                    }
                ),
                flush=True,
            )
            gf, fgf = flops["trainStep"] / ms / 1e6, flops["forward"] / fwd / 1e6
            print(
                json.dumps(
                    {
                        "metric": f"{title} train step GFLOP/s, batch {batch}, {label}",
                        "value": gf,
                        "unit": "GFLOP/s",
                        "baseline": {"name": "forward only (no_grad)", "value": fgf},
                        "ratio": gf / fgf,
                        "note": f"alignrun's FLOP count: {flops['trainStep'] / 1e9:.3f} GFLOP per step, "
                        f"{flops['forward'] / 1e9:.3f} forward",
                    }
                ),
                flush=True,
            )
    if failed:
        print(f"PyTorch and alignrun differ by more than {args.tolerance} (see the check lines).", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
