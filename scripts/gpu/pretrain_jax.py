#!/usr/bin/env python3
"""Pretrains the tiny shapes model's UNet on a GPU with JAX, by interpreting the model's own ONNX
graph (the same graph alignrun's engine trains), so the trained weights drop back into the ONNX
file unchanged in layout.

Why a second trainer: alignrun's engine reaches a GPU only through onnxruntime-node's WebGPU
provider, which runs at a few percent of the card (../shared/gpu/README.md); pretraining a base
model is not part of the paper's method (it starts from a pretrained Stable Diffusion), so the
base may come from anywhere. The objective is the pretrain stage's (src/finetune/pretrain.ts):
v-prediction MSE on rendered images, t uniform over the schedule, 10% empty-prompt conditioning,
frozen text encoder; AdamW, cosine schedule, gradient clipping, a moving average of the weights.

  train:   pretrain_jax.py train UNET.onnx DATA_DIR OUT.npz --seconds S [--batch B] [--lr X]
  check:   pretrain_jax.py check UNET.onnx          (interpreter vs onnxruntime on random inputs)
  export:  pretrain_jax.py export BASE_DIR OUT_DIR WEIGHTS.npz KEY   (an SD-layout model folder)

DATA_DIR is written by scripts/gpu/export-pretrain-data.ts. OUT.npz holds snapshots of the
weight average, keys "<snapshot>/<initializer name>", rewritten after each snapshot.
"""
import argparse
import json
import math
import os
import shutil
import sys
import time

import numpy as np
import onnx
from onnx import numpy_helper


def load_graph(path):
    model = onnx.load(path)
    params, consts, nodes = {}, {}, []
    for t in model.graph.initializer:
        a = numpy_helper.to_array(t)
        (params if a.dtype == np.float32 else consts)[t.name] = a
    for n in model.graph.node:
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in n.attribute}
        if n.op_type == 'Constant':
            consts[n.output[0]] = numpy_helper.to_array(attrs['value'])
        else:
            nodes.append((n.op_type, list(n.input), n.output[0], attrs))
    return model, params, consts, nodes


def make_apply(consts, nodes, output):
    import jax
    import jax.numpy as jnp
    from jax import lax

    def instance_norm(x, a):
        x_, scale, bias = x
        axes = tuple(range(2, x_.ndim))
        mean = x_.mean(axis=axes, keepdims=True)
        var = ((x_ - mean) ** 2).mean(axis=axes, keepdims=True)
        shape = (1, -1) + (1,) * (x_.ndim - 2)
        y = (x_ - mean) / jnp.sqrt(var + a.get('epsilon', 1e-5))
        return y * scale.reshape(shape) + bias.reshape(shape)

    def conv(x, a):
        assert a.get('group', 1) == 1 and set(a.get('dilations', [1, 1])) == {1}
        p = a.get('pads', [0, 0, 0, 0])
        y = lax.conv_general_dilated(
            x[0], x[1], tuple(a.get('strides', [1, 1])), [(p[0], p[2]), (p[1], p[3])],
            dimension_numbers=('NCHW', 'OIHW', 'NCHW'))
        return y if len(x) < 3 or x[2] is None else y + x[2].reshape(1, -1, 1, 1)

    def reshape(x, a):
        shape = [x[0].shape[i] if s == 0 else int(s) for i, s in enumerate(np.asarray(x[1]))]
        return jnp.reshape(x[0], shape)

    def resize(x, a):
        assert a.get('mode', b'nearest') in (b'nearest', 'nearest')
        scales = np.asarray(x[2])
        y = x[0]
        for axis, s in enumerate(scales):
            assert float(s).is_integer(), 'integer nearest upsampling only'
            if s != 1:
                y = jnp.repeat(y, int(s), axis=axis)
        return y

    def unsqueeze(x, a):
        axes = sorted(int(v) for v in np.asarray(x[1] if len(x) > 1 else a['axes']))
        y = x[0]
        for ax in axes:
            y = jnp.expand_dims(y, ax if ax >= 0 else y.ndim + 1 + ax)
        return y

    ops = {
        'Add': lambda x, a: x[0] + x[1],
        'Sub': lambda x, a: x[0] - x[1],
        'Mul': lambda x, a: x[0] * x[1],
        'Div': lambda x, a: x[0] / x[1],
        'MatMul': lambda x, a: jnp.matmul(x[0], x[1]),
        'Transpose': lambda x, a: jnp.transpose(x[0], a['perm']),
        'Sigmoid': lambda x, a: jax.nn.sigmoid(x[0]),
        'Softmax': lambda x, a: jax.nn.softmax(x[0], axis=a.get('axis', -1)),
        'Concat': lambda x, a: jnp.concatenate(x, axis=a['axis']),
        'Cos': lambda x, a: jnp.cos(x[0]),
        'Sin': lambda x, a: jnp.sin(x[0]),
        'Identity': lambda x, a: x[0],
        'Conv': conv,
        'InstanceNormalization': instance_norm,
        'Reshape': reshape,
        'Resize': resize,
        'Unsqueeze': unsqueeze,
    }
    missing = {op for op, *_ in nodes} - set(ops)
    if missing:
        sys.exit(f'pretrain_jax.py: the graph uses ops this interpreter lacks: {sorted(missing)}')

    def apply(params, sample, timestep, context):
        env = dict(consts)
        env.update(params)
        env.update(sample=sample, timestep=timestep, encoder_hidden_states=context)
        for op, ins, out, attrs in nodes:
            env[out] = ops[op]([env[i] if i else None for i in ins], attrs)
        return env[output]

    return apply


def alphas_cumprod(scheduler_config):
    with open(scheduler_config) as f:
        c = json.load(f)
    T = c.get('num_train_timesteps', 1000)
    b0, b1 = c.get('beta_start', 1e-4), c.get('beta_end', 0.02)
    kind = c.get('beta_schedule', 'linear')
    if kind == 'linear':
        betas = np.linspace(b0, b1, T, dtype=np.float64)
    elif kind == 'scaled_linear':
        betas = np.linspace(b0 ** 0.5, b1 ** 0.5, T, dtype=np.float64) ** 2
    else:
        sys.exit(f'pretrain_jax.py: beta_schedule {kind} is not supported here')
    return np.cumprod(1 - betas), c.get('prediction_type', 'epsilon')


def cmd_check(args):
    import jax
    import onnxruntime as ort
    model, params, consts, nodes = load_graph(args.unet)
    apply = jax.jit(make_apply(consts, nodes, model.graph.output[0].name))
    rng = np.random.default_rng(0)
    B = 3
    ctx_shape = [d.dim_value for d in model.graph.input[2].type.tensor_type.shape.dim][1:]
    feeds = {
        'sample': rng.standard_normal((B, 3, 32, 32)).astype(np.float32),
        'timestep': np.array([0, 500, 999], np.float32),
        'encoder_hidden_states': rng.standard_normal([B] + ctx_shape).astype(np.float32),
    }
    want = ort.InferenceSession(args.unet, providers=['CPUExecutionProvider']).run(None, feeds)[0]
    got = np.asarray(apply(params, feeds['sample'], feeds['timestep'], feeds['encoder_hidden_states']))
    err = float(np.abs(got - want).max())
    print(json.dumps({'max_abs_err': err, 'scale': float(np.abs(want).max())}))
    if not err < 1e-3:
        sys.exit('pretrain_jax.py: the interpreter does not match onnxruntime')


def cmd_train(args):
    import jax
    import jax.numpy as jnp
    from jax import lax

    t_start = time.time()
    log = open(args.out + '.log', 'a', buffering=1)

    def emit(**o):
        o = {'t': round(time.time() - t_start, 1), **o}
        print(json.dumps(o), flush=True)
        log.write(json.dumps(o) + '\n')

    model, params0, consts, nodes = load_graph(args.unet)
    apply = make_apply(consts, nodes, model.graph.output[0].name)
    sched = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(args.unet))), 'scheduler',
                         'scheduler_config.json')
    abar_np, _ = alphas_cumprod(sched) if os.path.exists(sched) else alphas_cumprod(args.scheduler)
    with open(os.path.join(args.data, 'meta.json')) as f:
        meta = json.load(f)
    images = np.fromfile(os.path.join(args.data, 'images.u8'), np.uint8).reshape(meta['n'], 3, 32, 32)
    labels = np.fromfile(os.path.join(args.data, 'labels.u16'), np.uint16).astype(np.int32)
    context = np.fromfile(os.path.join(args.data, 'context.f32'), np.float32).reshape(
        meta['prompts'], meta['length'], meta['width'])
    emit(event='start', device=str(jax.devices()[0]), params=int(sum(p.size for p in params0.values())),
         images=int(meta['n']), batch=args.batch, lr=args.lr)

    images_d, labels_d, context_d = jnp.asarray(images), jnp.asarray(labels), jnp.asarray(context)
    abar = jnp.asarray(abar_np, jnp.float32)
    T = abar.shape[0]
    B, N = args.batch, int(meta['n'])
    b1, b2, eps_adam = 0.9, 0.999, 1e-8

    def loss_fn(p, x0, t, ctx, eps):
        ab = abar[t][:, None, None, None]
        sa, s1 = jnp.sqrt(ab), jnp.sqrt(1 - ab)
        xt = sa * x0 + s1 * eps
        target = sa * eps - s1 * x0 if args.prediction == 'v_prediction' else eps
        pred = apply(p, xt, t.astype(jnp.float32), ctx)
        return jnp.mean((pred - target) ** 2)

    def lr_at(step, total):
        warm = jnp.minimum(1.0, (step + 1) / args.warmup)
        prog = jnp.clip((step - args.warmup) / jnp.maximum(1, total - args.warmup), 0, 1)
        return args.lr * jnp.where(step < args.warmup, warm, 0.5 * (1 + jnp.cos(math.pi * prog)))

    def body(carry, key, images, labels, context, total, ema_decay):
        p, m, v, ema, step = carry
        k1, k2, k3, k4 = jax.random.split(key, 4)
        idx = jax.random.randint(k1, (B,), 0, N)
        x0 = images[idx].astype(jnp.float32) / 127.5 - 1
        lab = jnp.where(jax.random.uniform(k2, (B,)) < args.uncond, 0, labels[idx])
        t = jax.random.randint(k3, (B,), 0, T)
        eps = jax.random.normal(k4, x0.shape)
        loss, g = jax.value_and_grad(loss_fn)(p, x0, t, context[lab], eps)
        gnorm = jnp.sqrt(sum(jnp.sum(x * x) for x in jax.tree_util.tree_leaves(g)))
        g = jax.tree_util.tree_map(lambda x: x * jnp.minimum(1.0, args.clip / (gnorm + 1e-6)), g)
        n = step + 1
        lr = lr_at(step, total)
        m = jax.tree_util.tree_map(lambda a, b: b1 * a + (1 - b1) * b, m, g)
        v = jax.tree_util.tree_map(lambda a, b: b2 * a + (1 - b2) * b * b, v, g)
        c1, c2 = 1 - b1 ** n, 1 - b2 ** n
        p = jax.tree_util.tree_map(lambda w, a, b: w - lr * (a / c1 / (jnp.sqrt(b / c2) + eps_adam)), p, m, v)
        d = jnp.minimum(ema_decay, (1 + n) / (10 + n))
        ema = jax.tree_util.tree_map(lambda e, w: d * e + (1 - d) * w, ema, p)
        return (p, m, v, ema, n), (loss, gnorm)

    @jax.jit
    def chunk(carry, key, images, labels, context, total, ema_decay):
        keys = jax.random.split(key, args.chunk)
        carry, (losses, gn) = lax.scan(
            lambda c, k: body(c, k, images, labels, context, total, ema_decay), carry, keys)
        return carry, losses.mean(), gn.mean()

    p = {k: jnp.asarray(v) for k, v in params0.items()}
    zeros = jax.tree_util.tree_map(jnp.zeros_like, p)
    carry = (p, zeros, zeros, p, jnp.asarray(0, jnp.int32))
    key = jax.random.key(args.seed)

    # Compile and time a few chunks with a provisional total, then size the schedule to the budget.
    total = jnp.asarray(10 ** 9, jnp.int32)
    decay = jnp.asarray(args.ema, jnp.float32)
    key, k = jax.random.split(key)
    carry, loss, gn = chunk(carry, k, images_d, labels_d, context_d, total, decay)
    loss.block_until_ready()
    emit(event='compiled', loss=float(loss))
    t0 = time.time()
    for _ in range(3):
        key, k = jax.random.split(key)
        carry, loss, gn = chunk(carry, k, images_d, labels_d, context_d, total, decay)
    loss.block_until_ready()
    per_chunk = (time.time() - t0) / 3
    left = args.seconds - (time.time() - t_start) - 15
    chunks = max(4, int(left / per_chunk))
    total_steps = (chunks + 4) * args.chunk
    total = jnp.asarray(total_steps, jnp.int32)
    # The average spans at most a twentieth of the run (a short run must not export its start).
    ema_decay = min(args.ema, 1 - 20 / total_steps)
    decay = jnp.asarray(ema_decay, jnp.float32)
    emit(event='planned', sec_per_chunk=round(per_chunk, 4), images_per_sec=round(args.chunk * B / per_chunk),
         total_steps=total_steps, ema_decay=ema_decay)
    # The loop runs to the time budget; the schedule's length is re-estimated from the measured
    # rate as it goes (another job on the same GPU changes it), snapshots fall at shares of the time.
    end = t_start + args.seconds - 10
    begin = time.time()
    snap_at = sorted(begin + f * (end - begin) for f in args.snapshots if f < 1)
    saved = {}

    def snapshot():
        step = int(carry[4])
        for name, w in carry[3].items():
            saved[f'step{step}/{name}'] = np.asarray(w)
        np.savez(args.out + '.tmp.npz', **saved)
        os.replace(args.out + '.tmp.npz', args.out)
        emit(event='snapshot', step=step, file=args.out)

    c, mark, mark_c = 0, time.time(), 0
    while True:
        key, k = jax.random.split(key)
        carry, loss, gn = chunk(carry, k, images_d, labels_d, context_d, total, decay)
        loss.block_until_ready()
        c += 1
        now = time.time()
        if c % args.log_every == 0:
            step = int(carry[4])
            per_chunk = (now - mark) / (c - mark_c)
            mark, mark_c = now, c
            total_steps = step + max(0, int((end - now) / per_chunk)) * args.chunk
            total = jnp.asarray(total_steps, jnp.int32)
            emit(step=step, images=step * B, loss=round(float(loss), 5), gnorm=round(float(gn), 3),
                 lr=float(lr_at(step, total_steps)), total_steps=total_steps,
                 images_per_sec=round(args.chunk * B / per_chunk))
        if snap_at and now >= snap_at[0]:
            snap_at.pop(0)
            snapshot()
        if now >= end:
            snapshot()
            break
    emit(event='done', step=int(carry[4]))


def cmd_export(args):
    weights = np.load(args.weights)
    names = sorted({k.split('/', 1)[0] for k in weights.files})
    if args.key not in names:
        sys.exit(f'pretrain_jax.py: no snapshot "{args.key}" in {args.weights} (it has {", ".join(names)})')
    if os.path.exists(args.out_dir):
        sys.exit(f'pretrain_jax.py: {args.out_dir} exists; remove it first')
    shutil.copytree(args.base_dir, args.out_dir, ignore=shutil.ignore_patterns('checkpoint', '*.png'))
    path = os.path.join(args.out_dir, 'unet', 'model.onnx')
    model = onnx.load(path)
    replaced = 0
    for t in model.graph.initializer:
        k = f'{args.key}/{t.name}'
        if k in weights.files:
            t.CopyFrom(numpy_helper.from_array(weights[k].astype(np.float32), t.name))
            replaced += 1
    onnx.save(model, path)
    sched = os.path.join(args.out_dir, 'scheduler', 'scheduler_config.json')
    with open(sched) as f:
        c = json.load(f)
    c['prediction_type'] = args.prediction
    with open(sched, 'w') as f:
        f.write(json.dumps(c, indent=2) + '\n')
    print(json.dumps({'replaced': replaced, 'out': args.out_dir}))


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest='cmd', required=True)
    t = sub.add_parser('train')
    t.add_argument('unet')
    t.add_argument('data')
    t.add_argument('out')
    t.add_argument('--seconds', type=float, required=True)
    t.add_argument('--batch', type=int, default=256)
    t.add_argument('--lr', type=float, default=1e-3)
    t.add_argument('--warmup', type=int, default=500)
    t.add_argument('--clip', type=float, default=1.0)
    t.add_argument('--ema', type=float, default=0.9995)
    t.add_argument('--uncond', type=float, default=0.1)
    t.add_argument('--chunk', type=int, default=50)
    t.add_argument('--log-every', type=int, default=20)
    t.add_argument('--seed', type=int, default=0)
    t.add_argument('--prediction', default='v_prediction')
    t.add_argument('--scheduler', default='models/tiny/scheduler/scheduler_config.json')
    t.add_argument('--snapshots', type=lambda s: [float(x) for x in s.split(',')], default=[0.25, 0.5, 1.0])
    c = sub.add_parser('check')
    c.add_argument('unet')
    e = sub.add_parser('export')
    e.add_argument('base_dir')
    e.add_argument('out_dir')
    e.add_argument('weights')
    e.add_argument('key')
    e.add_argument('--prediction', default='v_prediction')
    args = ap.parse_args()
    {'train': cmd_train, 'check': cmd_check, 'export': cmd_export}[args.cmd](args)


if __name__ == '__main__':
    main()
