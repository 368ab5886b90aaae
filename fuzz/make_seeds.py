#!/usr/bin/env python3
"""Writes the small committed seed inputs under fuzz/seeds/ (run once; needs PyTorch + Pillow).

The fuzz runs also read the real files of the repository directly (checkpoint and imaging
fixtures, see the `fuzz-seeds:` lines of each target); this script adds what those lack:
bare pickles for the `pickle` target (including the object pickles inside the checkpoint
fixtures) and small versions of the sample photos for the image decoders (the photos
themselves are 100-800 kB, far over the fuzzers' max_len).
"""
import collections, io, pathlib, pickle, sys, zipfile

import torch
from PIL import Image

root = pathlib.Path(__file__).resolve().parent.parent
seeds = root / "fuzz" / "seeds"
fixtures = root / "Tests" / "CAMRuntimeTests" / "Fixtures" / "checkpoints"


def write(folder, name, data):
    path = seeds / folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


# Bare pickles: plain containers at every protocol, and the object pickles of real checkpoints.
values = {
    "dict": {"a": 1, "b": [1.5, -2, None, True], "c": ("x", b"y", 2**70)},
    "ordered": collections.OrderedDict([("w", [1, 2, 3]), ("n", {"k": (1, 2)})]),
    "shared": (lambda l: [l, l, {"again": l}])([1, 2]),
}
for name, value in values.items():
    for proto in (0, 2, 4, 5):
        write("pickle", f"{name}_p{proto}.pkl", pickle.dumps(value, protocol=proto))
for proto in (2, 4):
    buffer = io.BytesIO()
    sd = collections.OrderedDict([("w", torch.arange(6, dtype=torch.float32).reshape(2, 3)),
                                  ("h", torch.ones(2, dtype=torch.float16)),
                                  ("n", torch.tensor(3))])
    torch.save(sd, buffer, pickle_protocol=proto)
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as z:
        for entry in z.namelist():
            if entry.endswith("data.pkl"):
                write("pickle", f"torch_state_dict_p{proto}.pkl", z.read(entry))
for path in sorted(fixtures.glob("*.pth")):
    data = path.read_bytes()
    if data[:2] == b"PK":
        with zipfile.ZipFile(path) as z:
            for entry in z.namelist():
                if entry.endswith(".pkl"):
                    write("pickle", f"{path.stem}_{entry.split('/')[-1]}", z.read(entry))

# Small photos: each sample photo at 32x24 and 64x48, PNG (RGB, RGBA, gray, palette, 16-bit,
# interlaced) and JPEG (baseline, progressive, gray, 4:2:0/4:4:4, with EXIF orientation).
for photo in sorted((root / "examples" / "images").glob("*.*g")):
    image = Image.open(photo).convert("RGB")
    for size in ((32, 24), (64, 48)):
        small = image.resize(size)
        stem = f"{photo.stem}_{size[0]}"
        variants = {
            "rgb.png": dict(img=small, format="PNG"),
            "rgba.png": dict(img=small.convert("RGBA"), format="PNG"),
            "gray.png": dict(img=small.convert("L"), format="PNG"),
            "palette.png": dict(img=small.convert("P"), format="PNG"),
            "gray16.png": dict(img=small.convert("I;16"), format="PNG"),
            "interlaced.png": dict(img=small, format="PNG", interlace=1),
            "baseline.jpg": dict(img=small, format="JPEG", quality=80),
            "progressive.jpg": dict(img=small, format="JPEG", progressive=True),
            "gray.jpg": dict(img=small.convert("L"), format="JPEG"),
            "444.jpg": dict(img=small, format="JPEG", subsampling=0),
        }
        for suffix, options in variants.items():
            out = io.BytesIO()
            img = options.pop("img")
            img.save(out, **options)
            write("png" if suffix.endswith(".png") else "jpeg", f"{stem}_{suffix}", out.getvalue())
        exif = Image.Exif()
        exif[0x0112] = 6  # orientation: rotate 90
        out = io.BytesIO()
        small.save(out, format="JPEG", exif=exif.tobytes())
        write("jpeg", f"{stem}_exif6.jpg", out.getvalue())

# Large enough for the JPEG crop path's two decoders (a crop of at least 768 rows with the jpeg
# target's second preset), small enough for its 32 kB inputs: low quality.
rocket = Image.open(root / "examples" / "images" / "rocket.jpg").convert("RGB").resize((880, 880))
for suffix, options in {"880_q10.jpg": dict(quality=10), "880_q10_444.jpg": dict(quality=10, subsampling=0)}.items():
    out = io.BytesIO()
    rocket.save(out, format="JPEG", **options)
    write("jpeg", f"rocket_{suffix}", out.getvalue())

# Over 2 megapixels, so that RGBImage(data:) decodes it with two decoders, in under 32 kB.
out = io.BytesIO()
Image.open(root / "examples" / "images" / "rocket.jpg").convert("L").resize((1450, 1400)).save(out, format="JPEG", quality=5)
write("jpeg", "rocket_1450_gray_q5.jpg", out.getvalue())

print("seeds:", {d.name: len(list(d.iterdir())) for d in sorted(seeds.iterdir())}, file=sys.stderr)
