#!/usr/bin/env python3
"""Writes the dataset benchmark's folder: N photos (default 1000) of mixed, realistic sizes, made
from the sample photos in examples/images by random crops (at least half of each side), left-right
flips and rescales to 0.3–12 megapixels (log-uniform), saved as JPEG quality 90 into
FOLDER/CLASS/NNNN.jpg (CLASS = the source photo's name). Seeded: the same folder every time.
Needs Pillow. Usage: make_folder.py FOLDER [N]"""
import math
import os
import random
import sys

from PIL import Image

folder = sys.argv[1]
count = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
here = os.path.dirname(os.path.abspath(__file__))
images = os.path.join(here, "..", "..", "examples", "images")
sources = sorted(f for f in os.listdir(images) if f.lower().endswith((".png", ".jpg", ".jpeg")))
photos = {os.path.splitext(f)[0]: Image.open(os.path.join(images, f)).convert("RGB") for f in sources}
rng = random.Random(20)
total = 0
for i in range(count):
    name = sorted(photos)[i % len(photos)]
    photo = photos[name]
    w, h = photo.size
    cw, ch = rng.randint(w // 2, w), rng.randint(h // 2, h)
    x, y = rng.randint(0, w - cw), rng.randint(0, h - ch)
    picture = photo.crop((x, y, x + cw, y + ch))
    if rng.random() < 0.5:
        picture = picture.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    megapixels = math.exp(rng.uniform(math.log(0.3), math.log(12)))
    scale = math.sqrt(megapixels * 1e6 / (cw * ch))
    picture = picture.resize((max(1, round(cw * scale)), max(1, round(ch * scale))), Image.Resampling.BILINEAR)
    os.makedirs(os.path.join(folder, name), exist_ok=True)
    path = os.path.join(folder, name, f"{i:04d}.jpg")
    picture.save(path, quality=90)
    total += picture.width * picture.height
print(f"wrote {count} photos, {total / count / 1e6:.1f} megapixels on average, into {folder}")
