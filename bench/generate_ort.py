"""UNet step time of an ONNX model under onnxruntime in Python, for bench/generate.bench.ts.

Same feeds and session options as the Node side: float32 inputs made from the same formulas,
CPU provider, memory arena and pattern off, all graph optimisations. Prints one JSON line.
    .venv/bin/python bench/generate_ort.py MODEL_DIR --batch 16 --runs 20 --warmup 3
"""

import argparse
import json
import statistics
import time

import numpy as np
import onnxruntime as ort


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model_dir")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    a = ap.parse_args()
    opts = ort.SessionOptions()
    opts.enable_cpu_mem_arena = False
    opts.enable_mem_pattern = False
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(f"{a.model_dir}/unet/model.onnx", opts, providers=["CPUExecutionProvider"])
    shapes = {i.name: i.shape for i in sess.get_inputs()}
    n = a.batch
    c, h, w = shapes["sample"][1:]
    length, width = shapes["encoder_hidden_states"][1:]
    feeds = {
        "sample": np.sin(np.arange(n * c * h * w, dtype=np.float64)).astype(np.float32).reshape(n, c, h, w),
        "timestep": np.full(n, 500, np.float32),
        "encoder_hidden_states": np.cos(np.arange(n * length * width, dtype=np.float64))
        .astype(np.float32)
        .reshape(n, length, width),
    }
    for _ in range(a.warmup):
        sess.run(None, feeds)
    times = []
    for _ in range(a.runs):
        t = time.perf_counter()
        sess.run(None, feeds)
        times.append((time.perf_counter() - t) * 1000)
    print(json.dumps({"onnxruntime": ort.__version__, "unetStepMs": statistics.median(times), "runs": a.runs}))


if __name__ == "__main__":
    main()
