"""Reference goldens for CLIP image preprocessing and the CLIP backbone (test/reward/clip-preprocess.test.ts).

Run from the repository root with the reference venv (scripts/reference/requirements.txt):
    /work/refvenv/bin/python scripts/reference/make_clip_fixture.py

It rewrites test/fixtures/clip-ref/ (deterministic: fixed torch and numpy seeds, procedural images):
  onnx/vision_model.onnx   tiny random CLIPModel's vision tower + projection: pixel_values -> image_embeds
  onnx/text_model.onnx     its text tower + projection: input_ids, attention_mask -> text_embeds
  vocab.json, merges.txt, tokenizer_config.json
                           the tiny CLIP tokenizer of models/tiny-random/tokenizer (635 tokens; the real
                           ids of test/fixtures/model/clip-subset go up to 49,407, which would make the
                           text embedding table alone 6 MB)
  preprocessor_config.json CLIPImageProcessor's: shortest_edge 64, crop 64x64, bicubic, CLIP mean/std
  images/*.png             "detailed" procedural RGB images: 512x512, 384x512 (portrait), 512x300
                           (landscape, odd crop offset) and 40x24 (upscaled)
  pixels/*.f32             pixel_values (CHW float32, little-endian) of each image, and of each image
                           under the processor variants below
  resize/*.u8              PIL Image.resize outputs (HWC uint8) of a small random image, per filter
                           and size, to check the resampler bit for bit
  goldens.json             the index: file names, dims, the processor variants' configs, unit-length
                           image and text embeddings from PyTorch, the prompts and their token ids

Which processor: in transformers 5.x `CLIPImageProcessor` is the torchvision backend ("fast");
the PIL/NumPy one (what 4.x called CLIPImageProcessor, the "slow" one) is `CLIPImageProcessorPil`.
The goldens use `CLIPImageProcessorPil` explicitly (torchvision is not even in the reference venv).
It reads images as uint8 PIL images, resizes with PIL (Image.resize, no reducing_gap), centre-crops
(zero-padding what falls outside), rescales in float64 then casts to float32, and normalises in
float32.
"""

import json
import os
import shutil
import sys
import tempfile

import numpy as np
import onnxruntime as ort
import PIL
import torch
import transformers
from PIL import Image
from transformers import CLIPConfig, CLIPModel, CLIPTokenizer
from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "test", "fixtures", "clip-ref")
TOKENIZER = os.path.join(ROOT, "models", "tiny-random", "tokenizer")
SIZE = 64

PROMPTS = ["a red circle", "three blue squares on a green background", ""]

# CLIPImageProcessorPil keyword overrides, each applied to the images named (kept small).
VARIANTS = [
    # Legacy integer sizes (size -> shortest_edge, crop_size -> square), bilinear.
    dict(
        name="legacy-int-bilinear",
        kwargs={"size": 32, "crop_size": 28, "resample": 2},
        images=["small", "landscape"],
    ),
    # Resize to an exact height/width, no crop, lanczos.
    dict(
        name="hw-lanczos-nocrop",
        kwargs={"size": {"height": 20, "width": 30}, "do_center_crop": False, "resample": 1},
        images=["small", "landscape"],
    ),
    # No resize; a crop larger than the image in both directions pads with zeros.
    dict(
        name="noresize-padcrop",
        kwargs={"do_resize": False, "crop_size": {"height": 30, "width": 50}},
        images=["small"],
    ),
    # No rescale (0..255 values normalised), box filter.
    dict(
        name="norescale-box",
        kwargs={
            "size": {"shortest_edge": 16},
            "crop_size": {"height": 16, "width": 12},
            "do_rescale": False,
            "resample": 4,
        },
        images=["small", "portrait"],
    ),
    # No normalisation, hamming.
    dict(
        name="nonormalize-hamming",
        kwargs={
            "size": {"shortest_edge": 33},
            "crop_size": {"height": 31, "width": 31},
            "do_normalize": False,
            "resample": 5,
        },
        images=["small", "detailed"],
    ),
    # Nearest; shortest_edge with longest_edge.
    dict(
        name="nearest-longest",
        kwargs={
            "size": {"shortest_edge": 30, "longest_edge": 40},
            "crop_size": {"height": 24, "width": 24},
            "resample": 0,
        },
        images=["small", "landscape"],
    ),
    # Magic Kernel Sharp 2021 (Pillow 13).
    dict(name="mks2021", kwargs={"size": 48, "crop_size": 40, "resample": 7}, images=["small", "portrait"]),
    # Non-default mean/std and rescale factor.
    dict(
        name="meanstd",
        kwargs={
            "size": 24,
            "crop_size": 20,
            "image_mean": [0.5, 0.4, 0.3],
            "image_std": [0.25, 0.2, 0.3],
            "rescale_factor": 0.004,
        },
        images=["small"],
    ),
]

# PIL Image.resize checks: (width, height) targets for a 29x17 random image, every filter.
RESIZE_SOURCE = (29, 17)
# (27, 5) and (28, 2) shrink the height by more than twice as many pixels as the width: Pillow 13
# runs the vertical pass first there (older Pillow always ran the horizontal one first).
RESIZE_TARGETS = [(11, 7), (64, 40), (29, 40), (13, 17), (5, 3), (3, 1), (27, 5), (28, 2)]
RESIZE_FILTERS = [0, 1, 2, 3, 4, 5, 6, 7]


def detailed_images():
    """Procedural uint8 HWC images with detail up to the Nyquist frequency (aliasing shows)."""
    rng = np.random.default_rng(20261203)
    images = {}

    h, w = 512, 512
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    r2 = (x - 255.5) ** 2 + (y - 255.5) ** 2
    # A zone plate (Nyquist at the edge) in four levels, so that the PNG stays small.
    zone = 85.0 * np.round(1.5 + 1.5 * np.cos(np.pi * r2 / 512.0))
    stripes = 255.0 * (((x + 2 * y) // 3) % 2)
    cells = ((x // 5) + (y // 5)).astype(int) % 2
    rings = (np.hypot(x - 170, y - 330) // 9).astype(int) % 2
    checker = 255.0 * (cells ^ rings)
    images["detailed"] = np.stack([zone, 0.7 * stripes + 0.3 * zone, checker], -1)

    h, w = 512, 384
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    blocks = rng.integers(0, 256, size=(h // 8, w // 4, 3)).repeat(8, 0).repeat(4, 1).astype(np.float64)
    grating = 127.5 + 127.5 * np.sin(2 * np.pi * (x * 0.37 + y * 0.11))
    ramp = 255.0 * y / (h - 1)
    images["portrait"] = np.stack(
        [0.6 * blocks[..., 0] + 0.4 * grating, 0.5 * blocks[..., 1] + 0.5 * ramp, blocks[..., 2]], -1
    )

    h, w = 300, 512
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    squares = 255.0 * ((np.maximum(np.abs(x - 300), np.abs(y - 140)) // 3) % 2)
    diag = 255.0 * (x + y) / (h + w - 2)
    fine = 127.5 + 127.5 * np.cos(np.pi * x * 0.9) * np.cos(np.pi * y * 0.45)
    images["landscape"] = np.stack([squares, diag, fine], -1)

    images["small"] = rng.integers(0, 256, size=(24, 40, 3)).astype(np.float64)
    return {k: np.clip(np.round(v), 0, 255).astype(np.uint8) for k, v in images.items()}


def tiny_clip(tokenizer):
    torch.manual_seed(0)
    vocab = len(tokenizer)
    config = CLIPConfig(
        text_config=dict(
            vocab_size=vocab,
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            max_position_embeddings=tokenizer.model_max_length,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        ),
        vision_config=dict(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            image_size=SIZE,
            patch_size=8,
        ),
        projection_dim=16,
    )
    model = CLIPModel(config).eval()
    # CLIP's init leaves a random tower nearly blind to its input (tiny weights, then LayerNorm):
    # larger weights make the embeddings depend on the pixels, so preprocessing errors show.
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() >= 2:
                p.normal_(0.0, 0.3)
    return model


class Vision(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, pixel_values):
        return self.model.get_image_features(pixel_values=pixel_values).pooler_output


class Text(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask):
        return self.model.get_text_features(input_ids=input_ids, attention_mask=attention_mask).pooler_output


def export(module, args, path, input_names, output_name):
    dynamic = {n: {0: "batch"} for n in input_names}
    dynamic[output_name] = {0: "batch"}
    torch.onnx.export(
        module,
        args,
        path,
        input_names=input_names,
        output_names=[output_name],
        dynamic_axes=dynamic,
        opset_version=17,
        dynamo=False,
    )


def unit(v):
    v = np.asarray(v, dtype=np.float64)
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def f32list(a):
    return [float(x) for x in np.asarray(a, dtype=np.float32).ravel()]


def write_f32(rel, array):
    np.ascontiguousarray(array, dtype="<f4").tofile(os.path.join(OUT, rel))
    return rel


def mask_like_clip_encoder(ids, eos):
    """src/reward/encoders.ts' attention mask: real tokens up to and including the first end token."""
    mask = np.zeros_like(ids)
    for i, row in enumerate(ids):
        hits = [j for j in range(1, len(row)) if row[j] == eos]
        end = hits[0] if hits else len(row) - 1
        mask[i, : end + 1] = 1
    return mask


def main():
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    for sub in ("onnx", "images", "pixels", "resize"):
        os.makedirs(os.path.join(OUT, sub))
    for name in ("vocab.json", "merges.txt", "tokenizer_config.json"):
        shutil.copy(os.path.join(TOKENIZER, name), os.path.join(OUT, name))
    tokenizer = CLIPTokenizer.from_pretrained(OUT)

    processor = CLIPImageProcessorPil(
        size={"shortest_edge": SIZE}, crop_size={"height": SIZE, "width": SIZE}, resample=3
    )
    with tempfile.TemporaryDirectory() as tmp:
        processor.save_pretrained(tmp)
        shutil.copy(os.path.join(tmp, "preprocessor_config.json"), os.path.join(OUT, "preprocessor_config.json"))
    # What the fixture's config reloads as (the PIL backend, explicitly).
    processor = CLIPImageProcessorPil.from_pretrained(OUT)

    model = tiny_clip(tokenizer)
    vision_file = os.path.join(OUT, "onnx", "vision_model.onnx")
    text_file = os.path.join(OUT, "onnx", "text_model.onnx")
    L = tokenizer.model_max_length
    export(Vision(model), (torch.zeros(1, 3, SIZE, SIZE),), vision_file, ["pixel_values"], "image_embeds")
    ids0 = torch.full((1, L), tokenizer.pad_token_id, dtype=torch.long)
    export(Text(model), (ids0, torch.ones_like(ids0)), text_file, ["input_ids", "attention_mask"], "text_embeds")
    vision_ort = ort.InferenceSession(vision_file, providers=["CPUExecutionProvider"])
    text_ort = ort.InferenceSession(text_file, providers=["CPUExecutionProvider"])

    goldens = {
        "versions": {
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "pillow": PIL.__version__,
            "numpy": np.__version__,
            "onnxruntime": ort.__version__,
        },
        "processor": "transformers.models.clip.image_processing_pil_clip.CLIPImageProcessorPil",
        "images": [],
        "variants": [],
        "texts": [],
        "resize": {},
    }

    images = detailed_images()
    pil_images = {}
    for name, array in images.items():
        png = os.path.join("images", f"{name}.png")
        Image.fromarray(array, "RGB").save(os.path.join(OUT, png), optimize=True)
        pil_images[name] = Image.open(os.path.join(OUT, png)).convert("RGB")  # what a user would load
        assert np.array_equal(np.asarray(pil_images[name]), array)

    worst_onnx = 1.0
    for name, im in pil_images.items():
        pixels = processor(images=im, return_tensors="np")["pixel_values"].astype(np.float32)
        assert pixels.shape == (1, 3, SIZE, SIZE), pixels.shape
        with torch.no_grad():
            torch_embeds = model.get_image_features(pixel_values=torch.from_numpy(pixels)).pooler_output.numpy()
        onnx_embeds = vision_ort.run(["image_embeds"], {"pixel_values": pixels})[0]
        cos = float((unit(torch_embeds) * unit(onnx_embeds)).sum())
        worst_onnx = min(worst_onnx, cos)
        goldens["images"].append(
            {
                "name": name,
                "png": f"images/{name}.png",
                "width": im.width,
                "height": im.height,
                "pixel_values": write_f32(f"pixels/{name}.f32", pixels),
                "dims": list(pixels.shape),
                "image_embeds": f32list(unit(torch_embeds)[0]),
                "onnx_cosine": cos,
            }
        )

    for variant in VARIANTS:
        proc = CLIPImageProcessorPil(**variant["kwargs"])
        outputs = []
        for name in variant["images"]:
            pixels = np.asarray(proc(images=pil_images[name], return_tensors="np")["pixel_values"], dtype=np.float32)
            rel = write_f32(f"pixels/{variant['name']}-{name}.f32", pixels)
            outputs.append({"image": name, "pixel_values": rel, "dims": list(pixels.shape)})
        goldens["variants"].append({"name": variant["name"], "kwargs": variant["kwargs"], "outputs": outputs})

    ids = np.array([tokenizer(p, padding="max_length", truncation=True, max_length=L)["input_ids"] for p in PROMPTS])
    mask = mask_like_clip_encoder(ids, tokenizer.eos_token_id)
    with torch.no_grad():
        text_torch = model.get_text_features(
            input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask)
        ).pooler_output.numpy()
    text_onnx = text_ort.run(["text_embeds"], {"input_ids": ids, "attention_mask": mask})[0]
    for i, prompt in enumerate(PROMPTS):
        goldens["texts"].append(
            {
                "text": prompt,
                "input_ids": [int(t) for t in ids[i]],
                "text_embeds": f32list(unit(text_torch[i])),
                "onnx_cosine": float((unit(text_torch[i]) * unit(text_onnx[i])).sum()),
            }
        )

    rng = np.random.default_rng(7)
    sw, sh = RESIZE_SOURCE
    source = rng.integers(0, 256, size=(sh, sw, 3), dtype=np.uint8)
    source.tofile(os.path.join(OUT, "resize", "source.u8"))
    cases = []
    blob = []
    offset = 0
    for resample in RESIZE_FILTERS:
        for tw, th in RESIZE_TARGETS:
            out = np.asarray(Image.fromarray(source, "RGB").resize((tw, th), resample, reducing_gap=None))
            blob.append(out.tobytes())
            cases.append({"resample": resample, "width": tw, "height": th, "offset": offset})
            offset += out.size
    with open(os.path.join(OUT, "resize", "outputs.u8"), "wb") as f:
        f.write(b"".join(blob))
    goldens["resize"] = {
        "source": "resize/source.u8",
        "width": sw,
        "height": sh,
        "layout": "HWC uint8",
        "outputs": "resize/outputs.u8",
        "cases": cases,
    }

    with open(os.path.join(OUT, "goldens.json"), "w") as f:
        json.dump(goldens, f, indent=1)
        f.write("\n")
    total = sum(os.path.getsize(os.path.join(d, n)) for d, _, ns in os.walk(OUT) for n in ns)
    print(f"wrote {OUT}: {total / 1e6:.2f} MB; worst torch-vs-onnxruntime image cosine {worst_onnx:.8f}")
    if worst_onnx < 0.99999:
        sys.exit("the ONNX vision tower does not reproduce PyTorch")


if __name__ == "__main__":
    main()
