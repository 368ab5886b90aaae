#!/usr/bin/env python3
"""Writes the seed corpus of the `onnx_import` fuzz target (fuzz/seeds/onnx-import/): complete,
tiny image classifiers exported by torch.onnx.export, each under the target's 32 kB max_len.

The `onnx` target's seeds are the exporter fixtures cut to their first nodes, which the importer
refuses at once (their outputs are never computed). The importer needs whole graphs that load,
so that mutations reach the lowering of every operator, the constant folding of shape subgraphs,
the rewrites (Conv+BN, MatMul+Add, the erf GELU), the module scopes and the trial forward. Each
model below reproduces, at 4-16 channels and a 16×16 input, the operator pattern of one family
the issue names (ResNet, MobileNetV3, EfficientNet, VGG/DenseNet, ConvNeXt, ViT, Swin) plus one of
activations and shape arithmetic, written by the TorchScript exporter (opset 17, the one
torchvision users get) with a dynamic batch, and two variants: opset 13 and dynamic H and W.

Run once: /tmp/venv/bin/python fuzz/make_onnx_import_seeds.py   (needs torch and onnx; deterministic)
"""
import io
import pathlib
import warnings

import torch
import torch.nn as nn
import torch.nn.functional as F

root = pathlib.Path(__file__).resolve().parent.parent
out = root / "fuzz" / "seeds" / "onnx-import"
out.mkdir(parents=True, exist_ok=True)
for old in out.glob("*.onnx"):
    old.unlink()
MAX_LEN = 32768


class ResNetLike(nn.Module):
    """Conv+BN+ReLU, MaxPool, a basic block with a strided 1×1 downsample, global pooling, fc."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(4)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.conv2 = nn.Conv2d(4, 8, 3, stride=2, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(8)
        self.downsample = nn.Sequential(nn.Conv2d(4, 8, 1, stride=2, bias=False), nn.BatchNorm2d(8))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, 5)

    def forward(self, x):
        x = self.maxpool(F.relu(self.bn1(self.conv1(x))))
        x = F.relu(self.bn2(self.conv2(x)) + self.downsample(x))
        return self.fc(torch.flatten(self.avgpool(x), 1))


class MobileNetLike(nn.Module):
    """Hardswish, a depthwise convolution, squeeze-excitation with Hardsigmoid, a residual add."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.BatchNorm2d(8), nn.Hardswish())
        self.dw = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1, groups=8), nn.BatchNorm2d(8), nn.ReLU6())
        self.fc1 = nn.Conv2d(8, 4, 1)
        self.fc2 = nn.Conv2d(4, 8, 1)
        self.project = nn.Conv2d(8, 8, 1)
        self.classifier = nn.Sequential(nn.Linear(8, 6), nn.Hardswish(), nn.Dropout(0.2), nn.Linear(6, 4))

    def forward(self, x):
        x = self.stem(x)
        y = self.dw(x)
        s = F.adaptive_avg_pool2d(y, 1)
        s = F.hardsigmoid(self.fc2(F.relu(self.fc1(s))))
        x = x + self.project(y * s)
        return self.classifier(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


class EfficientNetLike(nn.Module):
    """SiLU (Sigmoid × x), a 5×5 depthwise convolution with dilation, AveragePool, Clip."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(8), nn.SiLU())
        self.dw = nn.Conv2d(8, 8, 5, padding=4, dilation=2, groups=8)
        self.head = nn.Linear(8, 3)

    def forward(self, x):
        x = self.stem(x)
        x = torch.clamp(self.dw(x), -2.0, 6.0)
        x = F.avg_pool2d(x, 2)
        return self.head(x.mean((2, 3)))


class DenseVGGLike(nn.Module):
    """Concat of feature maps (DenseNet), ReLU and AvgPool, a VGG classifier with Dropout, a view."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(inplace=True))
        self.growth = nn.Conv2d(4, 4, 3, padding=1)
        self.pool = nn.AvgPool2d(2, stride=2)
        self.classifier = nn.Sequential(nn.Linear(8 * 4 * 4, 8), nn.ReLU(True), nn.Dropout(), nn.Linear(8, 5))

    def forward(self, x):
        x = self.features(x)
        x = torch.cat([x, F.leaky_relu(self.growth(x), 0.1)], 1)
        x = F.max_pool2d(self.pool(x), 2)
        return self.classifier(x.view(x.size(0), -1))


class LayerNorm2d(nn.LayerNorm):
    def forward(self, x):
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class ConvNeXtLike(nn.Module):
    """A patchify stem, LayerNorm over channels by permutes, a 7×7 depthwise convolution, the
    inverted MLP with exact GELU (the erf pattern), layer scale, a residual add."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 4, stride=4), LayerNorm2d(8, eps=1e-6))
        self.dwconv = nn.Conv2d(8, 8, 7, padding=3, groups=8)
        self.norm = nn.LayerNorm(8, eps=1e-6)
        self.pwconv1 = nn.Linear(8, 16)
        self.pwconv2 = nn.Linear(16, 8)
        self.layer_scale = nn.Parameter(torch.full((8, 1, 1), 0.5))
        self.head = nn.Sequential(nn.Flatten(1), nn.LayerNorm(8), nn.Linear(8, 4))

    def forward(self, x):
        x = self.stem(x)
        y = self.dwconv(x).permute(0, 2, 3, 1)
        y = self.pwconv2(F.gelu(self.pwconv1(self.norm(y)))).permute(0, 3, 1, 2)
        x = x + self.layer_scale * y
        return self.head(F.adaptive_avg_pool2d(x, 1))


class ViTLike(nn.Module):
    """A patch embedding, the class token (Expand, Concat), positions, pre-norm multi-head
    attention as torchvision's encoder writes it, a GELU MLP, the class token's row (Gather)."""

    def __init__(self):
        super().__init__()
        self.conv_proj = nn.Conv2d(3, 8, 4, stride=4)
        self.class_token = nn.Parameter(torch.randn(1, 1, 8))
        self.pos_embedding = nn.Parameter(torch.randn(1, 17, 8) * 0.02)
        self.ln_1 = nn.LayerNorm(8)
        self.self_attention = nn.MultiheadAttention(8, 2, batch_first=True)
        self.ln_2 = nn.LayerNorm(8)
        self.mlp = nn.Sequential(nn.Linear(8, 16), nn.GELU(), nn.Linear(16, 8))
        self.head = nn.Linear(8, 3)

    def forward(self, x):
        n = x.shape[0]
        x = self.conv_proj(x).reshape(n, 8, -1).permute(0, 2, 1)
        x = torch.cat([self.class_token.expand(n, -1, -1), x], dim=1) + self.pos_embedding
        y = self.ln_1(x)
        y, _ = self.self_attention(y, y, y, need_weights=False)
        x = x + y
        x = x + self.mlp(self.ln_2(x))
        return self.head(x[:, 0])


class SwinLike(nn.Module):
    """Channels-last patches, a padded shifted window (roll: Slice + Concat), window attention
    by hand (MatMul, Softmax, scaling), tanh-approximated GELU, Transpose back for the pool."""

    def __init__(self):
        super().__init__()
        self.proj = nn.Conv2d(3, 8, 4, stride=4)
        self.norm = nn.LayerNorm(8)
        self.qkv = nn.Linear(8, 24)
        self.out = nn.Linear(8, 8)
        self.head = nn.Linear(8, 2)

    def forward(self, x):
        x = self.norm(self.proj(x).permute(0, 2, 3, 1))           # [N, 4, 4, C]
        x = F.pad(x, (0, 0, 0, 1, 0, 1))                            # [N, 5, 5, C]
        x = torch.roll(x, shifts=(-1, -1), dims=(1, 2))[:, :4, :4, :]
        n, h, w, c = x.shape
        t = x.reshape(n, h * w, c)
        q, k, v = self.qkv(t).chunk(3, dim=-1)
        a = torch.softmax(q @ k.transpose(-2, -1) * (c ** -0.5), dim=-1)
        t = t + self.out(F.gelu(a @ v, approximate="tanh"))
        x = t.reshape(n, h, w, c).permute(0, 3, 1, 2)
        return self.head(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


class ActivationsLike(nn.Module):
    """The remaining element-wise operators and a Gemm head: PReLU, Tanh, Sigmoid, Sqrt, Pow,
    Div, Sub, Neg, Reciprocal, Erf, Softmax over a channel axis, Where on a comparison."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.prelu = nn.PReLU(4)
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        x = self.prelu(self.conv(x))
        y = torch.tanh(x) - torch.sigmoid(x) / (torch.sqrt(x * x + 1.0) + 0.5)
        y = torch.pow(y, 2) + torch.reciprocal(y.abs() + 1.0) - torch.erf(-y)
        y = torch.where(y > 0, y, y * 0.5) * torch.softmax(y, dim=1)
        return self.fc(y.mean(dim=(2, 3)))


FAMILIES = [
    ("resnet", ResNetLike), ("mobilenet", MobileNetLike), ("efficientnet", EfficientNetLike),
    ("dense_vgg", DenseVGGLike), ("convnext", ConvNeXtLike), ("vit", ViTLike), ("swin", SwinLike),
    ("activations", ActivationsLike),
]


def randomise(model, seed):
    """Random weights and BatchNorm statistics, so that no fold or fusion sees identities."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for tensor in list(model.parameters()) + list(model.buffers()):
            if tensor.dtype.is_floating_point:
                tensor.copy_(torch.rand(tensor.shape, generator=generator) * 0.8 + 0.1
                             if tensor.ndim == 1 else torch.randn(tensor.shape, generator=generator) * 0.4)
    return model.eval()


def export(model, stem, opset=17, dynamic_size=False):
    axes = {"input": {0: "batch"}, "logits": {0: "batch"}}
    if dynamic_size:
        axes["input"].update({2: "height", 3: "width"})
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.zeros(1, 3, 16, 16),), buffer, dynamo=False, opset_version=opset,
                          input_names=["input"], output_names=["logits"], dynamic_axes=axes,
                          do_constant_folding=True)
    data = buffer.getvalue()
    if len(data) > MAX_LEN:
        raise SystemExit(f"{stem}: {len(data)} bytes, over the target's max_len of {MAX_LEN}")
    (out / f"{stem}.onnx").write_bytes(data)
    print(f"{stem}.onnx: {len(data)} bytes")


torch.manual_seed(0)
for index, (stem, family) in enumerate(FAMILIES):
    model = randomise(family(), seed=index)
    export(model, stem)
export(randomise(ResNetLike(), seed=0), "resnet_opset13", opset=13)
export(randomise(MobileNetLike(), seed=1), "mobilenet_dynamic_size", dynamic_size=True)
