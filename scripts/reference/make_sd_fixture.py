"""The tiny random Stable-Diffusion-1.5-architecture fixture and its diffusers / PyTorch goldens.

Run with the pinned reference stack (never needed by `npm test`):
    python3 -m venv /tmp/refvenv && /tmp/refvenv/bin/pip install -r scripts/reference/requirements.txt
    /tmp/refvenv/bin/python scripts/reference/make_sd_fixture.py test/fixtures/sd-tiny

One random pipeline (CLIP text encoder, SD-1.5 UNet blocks, AutoencoderKL, SD 1.5's PNDM
scheduler config, the committed CLIP tokenizer subset) is exported three ways:

  pipeline/    OnnxStableDiffusionPipeline layout as alignrun's own models use it: fixed channel
               dim, per-sample float timestep [batch], int32 ids, unet/ and vae_decoder/ config.json.
  conversion/  what diffusers' scripts/convert_stable_diffusion_checkpoint_to_onnx.py writes:
               free batch/channel/height/width dims, no part config.json, the UNet's weights as
               external data (weights.pb), a vae_encoder that samples (randn_like) in the graph.
  optimum/     optimum-onnx's text-to-image layout (optimum 2.x's exporter settings, reproduced
               here because optimum-onnx 0.1 needs transformers < 4.58, which conflicts with the
               pinned diffusers): model_index.json of the diffusers pipeline (`vae`), a config.json
               per part, scalar float32 timestep, int64 ids, vae_encoder -> latent_parameters
               (mean and log-variance), opset 18, TorchScript exporter (dynamo=False) as optimum.

Goldens (golden/, little-endian .npy, float32 unless said):
  init_latents.npy [2,4,16,16]; gen-<scheduler>-g<guidance>-{image,latents}.npy for ddim, euler,
  dpmpp_2m at guidance 1 and 7.5 (images NCHW in [0, 1], latents before decoding);
  vae-images.npy, vae-mean.npy, vae-logvar.npy (AutoencoderKL.encode on fixed images);
  the denoising objective on a fixed batch (denoise-*.npy, denoise.json with the loss, from
  float64 autograd) and every UNet weight's gradient (denoise-grads.npy, in denoise.json's order);
  imagefolder/: four 40x32 captioned images with metadata.jsonl, the D_pre folder of the tests;
  param-map-<layout>.json: each ONNX initializer -> the torch parameter it holds (transposed,
  or reshaped for GroupNorm's [C, 1, 1]), found by value; lora-keys.json: the keys and shapes of diffusers' pytorch_lora_weights
  .safetensors for LoRA rank 4 on to_q, to_k, to_v, to_out.0.

`--save-diffusers DIR` instead saves the random pipeline in the diffusers layout, to check the
emulated optimum/ layout against optimum-onnx's real exporter in its own venv
(scripts/reference/requirements-optimum.txt):
    /tmp/optvenv/bin/optimum-cli export onnx --model DIR --task text-to-image OUT
and compare: node bin/alignrun.js sample OUT --latents golden/init_latents.npy ... --out X. transformers 4.57 loads
the text encoder that transformers 5 saved wrongly, so OUT's text_encoder differs; its UNet and
VAE match diffusers like the emulated ones.

`--check-lora FILE` instead loads FILE into the fixture pipeline with diffusers' load_lora_weights
and prints how far its UNet output moves (a LoRA file alignrun wrote must load there).
"""

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import onnx
import torch
from diffusers import (
    AutoencoderKL,
    DDIMScheduler,
    DPMSolverMultistepScheduler,
    EulerDiscreteScheduler,
    OnnxRuntimeModel,
    OnnxStableDiffusionPipeline,
    PNDMScheduler,
    StableDiffusionPipeline,
    UNet2DConditionModel,
)
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

ROOT = Path(__file__).resolve().parents[2]
TOKENIZER = ROOT / "test" / "fixtures" / "model" / "clip-subset"
COMPACT_TOKENIZER = Path("/tmp") / "alignrun-sd-fixture-tokenizer"
PROMPTS = ["a red cube on a blue floor", "two green spheres"]
STEPS = 8
SCHEDULERS = {
    "ddim": (DDIMScheduler, {}),
    "euler": (EulerDiscreteScheduler, {}),
    "dpmpp_2m": (DPMSolverMultistepScheduler, {"algorithm_type": "dpmsolver++", "solver_order": 2}),
}
SD15_SCHEDULER = dict(
    beta_start=0.00085,
    beta_end=0.012,
    beta_schedule="scaled_linear",
    num_train_timesteps=1000,
    set_alpha_to_one=False,
    skip_prk_steps=True,
    steps_offset=1,
    prediction_type="epsilon",
)


def build():
    torch.manual_seed(0)
    tokenizer = compact_tokenizer()
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=len(tokenizer),
            hidden_size=16,
            intermediate_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            max_position_embeddings=77,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        )
    )
    unet = UNet2DConditionModel(
        sample_size=16,
        in_channels=4,
        out_channels=4,
        layers_per_block=1,
        block_out_channels=(16, 32),
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=16,
        attention_head_dim=4,
        norm_num_groups=8,
    )
    vae = AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 2,
        up_block_types=("UpDecoderBlock2D",) * 2,
        block_out_channels=(8, 16),
        latent_channels=4,
        norm_num_groups=4,
        sample_size=32,
        layers_per_block=1,
    )
    # Norm scales of 1 and biases of 0 would make parameters indistinguishable by value (and
    # their gradients less telling): give every parameter random values.
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for model in (text_encoder, unet, vae):
            for p in model.parameters():
                p.add_(0.05 * torch.randn(p.shape, generator=gen))
        # A random UNet's Jacobian is large: at guidance 7.5 float32 rounding then doubles at every
        # DDIM step. A smaller output layer keeps trajectories comparable across implementations.
        unet.conv_out.weight.mul_(0.15)
    scheduler = PNDMScheduler(**SD15_SCHEDULER)
    pipe = StableDiffusionPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.set_progress_bar_config(disable=True)
    for model in (text_encoder, unet, vae):
        model.eval()
    return pipe


def compact_tokenizer():
    """The committed CLIP vocabulary subset with ids renumbered 0..N-1 (its own keep CLIP's ids up
    to 49407, which would make the embedding table 70 times larger than the vocabulary)."""
    vocab = json.loads((TOKENIZER / "vocab.json").read_text())
    ordered = sorted(vocab, key=vocab.get)
    tmp = COMPACT_TOKENIZER
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    (tmp / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(ordered)}))
    shutil.copy(TOKENIZER / "merges.txt", tmp / "merges.txt")
    return CLIPTokenizer(str(tmp / "vocab.json"), str(tmp / "merges.txt"), model_max_length=77)


class Fn(torch.nn.Module):
    def __init__(self, fn, owner):
        super().__init__()
        self.owner = owner
        self.fn = fn

    def forward(self, *args):
        return self.fn(*args)


def export(module, args, path, inputs, outputs, dynamic, opset):
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(
        module,
        args,
        str(path),
        input_names=inputs,
        output_names=outputs,
        dynamic_axes=dynamic,
        opset_version=opset,
        do_constant_folding=True,
        dynamo=False,
    )


def export_parts(pipe, out, layout):
    """The four ONNX parts of `pipe` into out/<part>/model.onnx, as `layout` writes them."""
    te, unet, vae = pipe.text_encoder, pipe.unet, pipe.vae
    L = pipe.tokenizer.model_max_length
    opset = 18 if layout == "optimum" else 14
    ids_type = torch.int64 if layout == "optimum" else torch.int32
    ids = pipe.tokenizer(PROMPTS[0], padding="max_length", max_length=L, return_tensors="pt").input_ids
    with torch.no_grad():
        export(
            Fn(lambda i: te(i, return_dict=False)[:2], te),
            (ids.to(ids_type),),
            out / "text_encoder" / "model.onnx",
            ["input_ids"],
            ["last_hidden_state", "pooler_output"],
            {"input_ids": {0: "batch", 1: "sequence"}},
            opset,
        )
        c = unet.config.in_channels
        if layout == "optimum":
            t_example = torch.tensor(500.0)
            dyn = {
                "sample": {0: "batch", 2: "height", 3: "width"},
                "encoder_hidden_states": {0: "batch", 1: "sequence"},
            }
        else:
            t_example = torch.tensor([500.0, 20.0])
            dyn = {
                "sample": {0: "batch", 2: "height", 3: "width"},
                "timestep": {0: "batch"},
                "encoder_hidden_states": {0: "batch", 1: "sequence"},
            }
            if layout == "conversion":
                dyn["sample"][1] = "channels"
        # The UNet itself (no wrapper), so node names carry its module paths as real exports do.
        export(
            unet,
            (torch.randn(2, c, 16, 16), t_example, torch.randn(2, L, te.config.hidden_size), {"return_dict": False}),
            out / "unet" / "model.onnx",
            ["sample", "timestep", "encoder_hidden_states"],
            ["out_sample"],
            dyn,
            opset,
        )
        if layout == "conversion":
            # The conversion script stores the UNet's weights as external data (SD's is > 2 GB).
            path = out / "unet" / "model.onnx"
            model = onnx.load(str(path))
            onnx.save_model(
                model,
                str(path),
                save_as_external_data=True,
                all_tensors_to_one_file=True,
                location="weights.pb",
                convert_attribute=False,
            )
        lat = vae.config.latent_channels
        free = "conversion" == layout
        dec_dyn = {"latent_sample": {0: "batch", 2: "height", 3: "width"}}
        enc_dyn = {"sample": {0: "batch", 2: "height", 3: "width"}}
        if free:
            dec_dyn["latent_sample"][1] = "channels"
            enc_dyn["sample"][1] = "channels"
        export(
            Fn(lambda z: vae.decode(z, return_dict=False)[0], vae),
            (torch.randn(1, lat, 16, 16),),
            out / "vae_decoder" / "model.onnx",
            ["latent_sample"],
            ["sample"],
            dec_dyn,
            opset,
        )
        if layout == "optimum":
            enc = Fn(lambda x: vae.encode(x).latent_dist.parameters, vae)
            enc_out = ["latent_parameters"]
        else:
            enc = Fn(lambda x: vae.encode(x).latent_dist.sample(), vae)
            enc_out = ["latent_sample"]
        export(enc, (torch.randn(1, 3, 32, 32),), out / "vae_encoder" / "model.onnx", ["sample"], enc_out, enc_dyn, opset)


def write_layout(pipe, root, layout):
    out = root / layout
    shutil.rmtree(out, ignore_errors=True)
    export_parts(pipe, out, layout)
    if layout == "optimum":
        pipe.save_config(out)  # the diffusers pipeline's model_index.json, as optimum keeps it
        pipe.text_encoder.config.save_pretrained(out / "text_encoder")
        pipe.unet.save_config(out / "unet")
        pipe.vae.save_config(out / "vae_encoder")
        pipe.vae.save_config(out / "vae_decoder")
        pipe.tokenizer.save_pretrained(out / "tokenizer")
        pipe.scheduler.save_pretrained(out / "scheduler")
    else:
        onnx_pipe = OnnxStableDiffusionPipeline(
            vae_encoder=OnnxRuntimeModel.from_pretrained(out / "vae_encoder", provider_options=None),
            vae_decoder=OnnxRuntimeModel.from_pretrained(out / "vae_decoder", provider_options=None),
            text_encoder=OnnxRuntimeModel.from_pretrained(out / "text_encoder", provider_options=None),
            tokenizer=pipe.tokenizer,
            unet=OnnxRuntimeModel.from_pretrained(out / "unet", provider_options=None),
            scheduler=pipe.scheduler,
            safety_checker=None,
            feature_extractor=None,
            requires_safety_checker=False,
        )
        onnx_pipe.save_pretrained(out)
        if layout == "pipeline":
            pipe.unet.save_config(out / "unet")
            pipe.vae.save_config(out / "vae_decoder")
            pipe.vae.save_config(out / "vae_encoder")
    tidy_tokenizer(out / "tokenizer")
    # SD 1.5's own scheduler_config.json names only what its PNDM config set: samplers built from
    # it keep their own defaults for the rest (timestep_spacing above all), in diffusers as here.
    config = {k: v for k, v in pipe.scheduler.config.items() if k not in pipe.scheduler.config["_use_default_values"]}
    config = {"_class_name": "PNDMScheduler", "_diffusers_version": "0.6.0", **{k: v for k, v in config.items() if not k.startswith("_")}}
    (out / "scheduler" / "scheduler_config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")


def tidy_tokenizer(path):
    # transformers 5 writes tokenizer.json only; SD exports ship CLIP's vocab.json + merges.txt too.
    for f in ("vocab.json", "merges.txt"):
        shutil.copy(COMPACT_TOKENIZER / f, path / f)
    (path / "chat_template.jinja").unlink(missing_ok=True)


def save(path, array):
    np.save(path, np.ascontiguousarray(array, dtype=np.float32))


def goldens_generation(pipe, root, gold):
    gen = torch.Generator().manual_seed(7)
    latents = torch.randn(2, 4, 16, 16, generator=gen)
    save(gold / "init_latents.npy", latents.numpy())
    for name, (cls, extra) in SCHEDULERS.items():
        pipe.scheduler = cls.from_pretrained(root / "pipeline" / "scheduler", **extra)
        for g in (1.0, 7.5):
            kw = dict(prompt=PROMPTS, negative_prompt=["", ""], num_inference_steps=STEPS, guidance_scale=g)
            with torch.no_grad():
                lat = pipe(latents=latents.clone(), output_type="latent", **kw).images
                img = pipe(latents=latents.clone(), output_type="pt", **kw).images
            tag = f"gen-{name}-g{g:g}"
            save(gold / f"{tag}-latents.npy", lat.numpy())
            save(gold / f"{tag}-image.npy", img.numpy())
    pipe.scheduler = PNDMScheduler.from_config(pipe.scheduler.config)


def goldens_vae(pipe, gold):
    gen = torch.Generator().manual_seed(8)
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, 32), torch.linspace(-1, 1, 32), indexing="ij")
    images = torch.stack(
        [
            torch.stack([torch.sin(6 * xx), torch.cos(5 * yy), xx * yy]),
            (torch.rand(3, 32, 32, generator=gen) * 2 - 1),
        ]
    ).clamp(-1, 1)
    with torch.no_grad():
        dist = pipe.vae.encode(images).latent_dist
    save(gold / "vae-images.npy", images.numpy())
    save(gold / "vae-mean.npy", dist.mean.numpy())
    save(gold / "vae-logvar.npy", dist.logvar.numpy())


def goldens_denoise(pipe, gold):
    """Loss (1/B) sum_b w_b mean((target_b - unet(x_t,b, t_b, z_b))^2) and its gradients, float64."""
    gen = torch.Generator().manual_seed(9)
    B = 2
    sample = torch.randn(B, 4, 16, 16, generator=gen)
    target = torch.randn(B, 4, 16, 16, generator=gen)
    context = torch.randn(B, 77, 16, generator=gen)
    timestep = torch.tensor([37.0, 811.0])
    weight = torch.tensor([0.75, 1.5])
    unet = UNet2DConditionModel.from_config(pipe.unet.config)
    unet.load_state_dict(pipe.unet.state_dict())
    unet = unet.double()
    out = unet(sample.double(), timestep.double(), context.double(), return_dict=False)[0]
    per = ((out - target.double()) ** 2).mean(dim=(1, 2, 3))
    loss = (per * weight.double()).sum() / B
    unet.zero_grad()
    loss.backward()
    names = [n for n, _ in unet.named_parameters()]
    grads = np.concatenate([p.grad.detach().numpy().ravel() for _, p in unet.named_parameters()])
    for key, value in dict(sample=sample, target=target, context=context, timestep=timestep, weight=weight).items():
        save(gold / f"denoise-{key}.npy", value.numpy())
    save(gold / "denoise-grads.npy", grads)
    params = [{"name": n, "shape": list(p.shape)} for n, p in unet.named_parameters()]
    (gold / "denoise.json").write_text(
        json.dumps({"loss": loss.item(), "perSample": per.tolist(), "params": params}, indent=1) + "\n"
    )
    del names


def param_map(pipe, root, gold, layout):
    """Each UNet initializer of the layout's export -> the torch parameter with its values."""
    model = onnx.load(str(root / layout / "unet" / "model.onnx"))
    params = {n: p.detach().numpy() for n, p in pipe.unet.named_parameters()}
    out = {}
    for init in model.graph.initializer:
        value = onnx.numpy_helper.to_array(init)
        if init.name in params and params[init.name].shape == value.shape:
            out[init.name] = {"param": init.name, "transposed": False}
            continue
        for n, p in params.items():
            if p.shape == value.shape and np.array_equal(p, value):
                out[init.name] = {"param": n, "transposed": False}
                break
            if p.ndim == 2 and p.T.shape == value.shape and np.array_equal(p.T, value):
                out[init.name] = {"param": n, "transposed": True}
                break
            # GroupNorm's scale and shift are folded to [C, 1, 1] beside InstanceNormalization.
            if p.size == value.size and p.ndim == 1 and np.array_equal(p, value.ravel()):
                out[init.name] = {"param": n, "transposed": False}
                break
    missing = sorted(set(params) - {m["param"] for m in out.values()})
    (gold / f"param-map-{layout}.json").write_text(json.dumps({"map": out, "unmapped": missing}, indent=1) + "\n")


def goldens_lora(pipe, gold):
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    unet = UNet2DConditionModel.from_config(pipe.unet.config)
    unet.load_state_dict(pipe.unet.state_dict())
    unet.add_adapter(LoraConfig(r=4, lora_alpha=4, target_modules=["to_q", "to_k", "to_v", "to_out.0"]))
    from diffusers.utils import convert_state_dict_to_diffusers

    layers = convert_state_dict_to_diffusers(get_peft_model_state_dict(unet))
    tmp = gold / "_lora"
    StableDiffusionPipeline.save_lora_weights(tmp, unet_lora_layers=layers, safe_serialization=True)
    from safetensors import safe_open

    with safe_open(str(tmp / "pytorch_lora_weights.safetensors"), "pt") as f:
        keys = {k: list(f.get_slice(k).get_shape()) for k in f.keys()}
        meta = f.metadata()
    shutil.rmtree(tmp)
    (gold / "lora-keys.json").write_text(json.dumps({"keys": keys, "metadata": meta}, indent=1, sort_keys=True) + "\n")


def write_imagefolder(root):
    """A tiny Hugging Face imagefolder (metadata.jsonl: file_name, text) for D_pre: 40x32 images,
    so resizing the shorter side and centre-cropping to 32x32 both matter."""
    from PIL import Image

    out = root / "imagefolder"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    captions = ["a red square on a white wall", "a blue circle", "two green bars", "a yellow sky at noon"]
    rng = np.random.default_rng(5)
    lines = []
    for i, text in enumerate(captions):
        yy, xx = np.mgrid[0:32, 0:40]
        base = np.stack([np.sin(xx / (3 + i)), np.cos(yy / (2 + i)), np.sin((xx + yy) / 5)], -1)
        pixels = ((base * 0.4 + 0.5 + 0.1 * rng.standard_normal(base.shape)).clip(0, 1) * 255).astype(np.uint8)
        Image.fromarray(pixels).save(out / f"{i:04d}.png")
        lines.append(json.dumps({"file_name": f"{i:04d}.png", "text": text}))
    (out / "metadata.jsonl").write_text("\n".join(lines) + "\n")


def check_lora(file):
    pipe = build()
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(1, 4, 16, 16, generator=gen)
    ctx = torch.randn(1, 77, 16, generator=gen)
    with torch.no_grad():
        before = pipe.unet(x, 500, ctx).sample
        pipe.load_lora_weights(str(Path(file).parent), weight_name=Path(file).name)
        after = pipe.unet(x, 500, ctx).sample
    print(json.dumps({"loaded": True, "max_abs_change": (after - before).abs().max().item()}))


def main():
    if sys.argv[1:2] == ["--check-lora"]:
        return check_lora(sys.argv[2])
    if sys.argv[1:2] == ["--save-diffusers"]:
        pipe = build()
        pipe.save_pretrained(sys.argv[2])
        return tidy_tokenizer(Path(sys.argv[2]) / "tokenizer")
    root = Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "test" / "fixtures" / "sd-tiny")
    root.mkdir(parents=True, exist_ok=True)
    gold = root / "golden"
    shutil.rmtree(gold, ignore_errors=True)
    gold.mkdir()
    pipe = build()
    for layout in ("pipeline", "conversion", "optimum"):
        write_layout(pipe, root, layout)
        param_map(pipe, root, gold, layout)
    goldens_generation(pipe, root, gold)
    goldens_vae(pipe, gold)
    goldens_denoise(pipe, gold)
    goldens_lora(pipe, gold)
    write_imagefolder(root)
    versions = {m.__name__: m.__version__ for m in (torch, onnx, np)}
    import diffusers
    import transformers

    versions.update(diffusers=diffusers.__version__, transformers=transformers.__version__)
    (gold / "versions.json").write_text(
        json.dumps({"versions": versions, "prompts": PROMPTS, "steps": STEPS}, indent=1) + "\n"
    )


if __name__ == "__main__":
    main()
