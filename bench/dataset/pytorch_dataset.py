#!/usr/bin/env python3
"""The dataset benchmark's PyTorch side: the same work as dataset.cam with the usual Python tools.
A torch DataLoader (2 worker processes, batches of 16) reads each photo (its bytes hashed with
SHA-256), decodes it with Pillow and applies the torchvision weights' transforms (ResNet-50 V2:
232 bilinear, crop 224; EfficientNet-Lite0: 256 bicubic, crop 224, mean = std = 0.5);
pytorch-grad-cam's GradCAM at the last block for class 281; show_cam_on_image on the crop;
cv2.imwrite of the PNG; one JSON line per image appended to a results file. Random weights
(torchvision's ResNet-50, tools/fixtures/gen_runtime.py's EfficientNet-Lite0), 2 threads.
Usage: pytorch_dataset.py ARCHITECTURE FOLDER OUT RESULTS.jsonl"""
import hashlib
import json
import os
import sys
import types

import numpy as np
import torch

sys.modules['torchvision._meta_registrations'] = types.ModuleType('torchvision._meta_registrations')
import torchvision  # noqa: E402
from torchvision.transforms import InterpolationMode  # noqa: E402
from torchvision.transforms._presets import ImageClassification  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'tools', 'fixtures'))
from gen_runtime import EfficientNetLite0  # noqa: E402

import cv2  # noqa: E402
from PIL import Image  # noqa: E402
from pytorch_grad_cam import GradCAM  # noqa: E402
from pytorch_grad_cam.utils.image import show_cam_on_image  # noqa: E402
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget  # noqa: E402

arch, folder, out, results = sys.argv[1:5]
torch.set_num_threads(2)
if arch == 'resnet50':
    model = torchvision.models.resnet50(weights=None).eval()
    layer = model.layer4[-1]
    transform = torchvision.models.ResNet50_Weights.IMAGENET1K_V2.transforms()
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
else:
    model = EfficientNetLite0().eval()
    layer = model._blocks[-1]
    transform = ImageClassification(crop_size=224, resize_size=256, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5),
                                     interpolation=InterpolationMode.BICUBIC)
    mean, std = np.array([0.5, 0.5, 0.5]), np.array([0.5, 0.5, 0.5])
paths = sorted(os.path.join(root, f) for root, _, files in os.walk(folder) for f in files if f.endswith('.jpg'))


class Photos(torch.utils.data.Dataset):
    def __len__(self):
        return len(paths)

    def __getitem__(self, i):
        with open(paths[i], 'rb') as f:
            data = f.read()
        digest = hashlib.sha256(data).hexdigest()
        with Image.open(paths[i]) as image:
            x = transform(image.convert('RGB'))
        return x, os.path.relpath(paths[i], folder), digest


loader = torch.utils.data.DataLoader(Photos(), batch_size=16, num_workers=2)
cam = GradCAM(model=model, target_layers=[layer])
n = 0
with open(results, 'a') as log:
    for x, names, digests in loader:
        maps = cam(input_tensor=x, targets=[ClassifierOutputTarget(281)] * len(names))
        crops = np.clip(x.permute(0, 2, 3, 1).numpy() * std + mean, 0, 1).astype(np.float32)
        for i in range(len(names)):
            picture = show_cam_on_image(crops[i], maps[i], use_rgb=True)
            cv2.imwrite(os.path.join(out, f'{n}.png'), cv2.cvtColor(picture, cv2.COLOR_RGB2BGR))
            log.write(json.dumps({'path': names[i], 'sha256': digests[i], 'target': 281}) + '\n')
            log.flush()
            n += 1
print(n, 'images')
