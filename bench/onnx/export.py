#!/usr/bin/env python3
"""Full-size ONNX models for bench/run.sh's CAMBENCH_ONNX comparison (issue 15).

Usage: python3 bench/onnx/export.py OUTDIR [stem ...]   (bench/run.sh uses OUTDIR = .build-bench/onnx)

Writes OUTDIR/<stem>.onnx and OUTDIR/<stem>.json for the torchvision classifiers resnet50,
mobilenet_v3_large, convnext_tiny and vit_b_16 at their real size (224x224, batch 1, 1000 classes),
in eval mode, with deterministic random weights: ``random_weights`` below is the rule of
tools/fixtures/gen_onnx.py (one numpy RandomState per model, tensors in state-dict order), so every
BatchNorm running statistic and affine parameter is random and ViT's zero-initialised head is
randomised too (a zero head would make every gradient CAM 0). The export is the TorchScript
exporter: ``torch.onnx.export(model, (x,), path, dynamo=False, opset_version=17,
input_names=['input'], output_names=['logits'], do_constant_folding=True)``.

The .json sidecar holds the settings the file was made with (a rerun skips a model whose .onnx
exists with the same settings: about a second instead of a minute; delete OUTDIR to force), the
pytorch-grad-cam tutorial target layer CAMBench and bench/onnx_bench.py use, a checksum of the
weights (onnx_bench.py re-creates the PyTorch model with ``build`` and checks it, so PyTorch times
the very same weights as the .onnx), and PyTorch's logits for CAMBench's input (its LCG, see
``cambench_input``), which CAMBench compares with its own to show it ran the same network.
The .onnx files are 15-350 MB: never commit them.
"""
import json
import os
import sys
import time
import types
import warnings

sys.modules['torchvision._meta_registrations'] = types.ModuleType('torchvision._meta_registrations')
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torchvision  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'tools', 'fixtures'))
import random_weights as random_weights_rule  # noqa: E402

OPSET = 17
SIZE = 224
# stem: (torchvision builder, seed (gen_onnx.py's for the family), pytorch-grad-cam tutorial target layer,
#        reshape_transform kind)
MODELS = {
    'resnet50': (torchvision.models.resnet50, 50, 'layer4[-1]', 'none'),
    'mobilenet_v3_large': (torchvision.models.mobilenet_v3_large, 3, 'features[-1]', 'none'),
    'convnext_tiny': (torchvision.models.convnext_tiny, 7, 'features[-1]', 'none'),
    'vit_b_16': (torchvision.models.vit_b_16, 16, 'encoder.layers[-1].ln_1', 'vit'),
}
EXPORT_CALL = ("torch.onnx.export(model, (x,), path, dynamo=False, opset_version=17, input_names=['input'], "
               "output_names=['logits'], do_constant_folding=True)")
WEIGHT_RULE = (
    'one numpy.random.RandomState(seed), tensors in state-dict order, each '
    'uniform(low, high, size=shape).astype(float32); integer buffers (num_batches_tracked, '
    'relative_position_index) kept; running_var, 1-D *.weight (BN/LN scales) and *layer_scale: [0.5, 1.5]; '
    'running_mean and 1-D biases: [-0.2, 0.2]; 4-D conv weights: +-sqrt(6/fan_in); other >=2-D weights '
    '(Linear, in_proj_weight): +-sqrt(3/fan_in); class/cls tokens, position embeddings, '
    'relative_position_bias_table: [-0.5, 0.5]; fan_in = prod(shape[1:])')


def random_weights(model, seed):
    """tools/fixtures/random_weights.py's rule (gen_onnx.py's WEIGHT_RULE); returns the float64 sum
    of every floating tensor as a checksum."""
    return random_weights_rule.draw(model, seed)


def build(stem):
    """The PyTorch model of `stem` in eval mode with its random weights, and their checksum."""
    builder, seed, _, _ = MODELS[stem]
    torch.manual_seed(seed)
    model = builder(weights=None).eval()
    checksum = random_weights(model, seed)
    return model, checksum


def cambench_input():
    """CAMBench's input(batch: 1): an LCG (state = state * 1664525 + 1013904223 mod 2^32, from
    12345), each value (state >> 8) / 2^24 * 4 - 2 (exact in float32)."""
    count = 3 * SIZE * SIZE
    values = np.empty(count, dtype=np.float64)
    state = 12345
    for i in range(count):
        state = (state * 1664525 + 1013904223) & 0xFFFFFFFF
        values[i] = (state >> 8) / float(1 << 24) * 4 - 2
    return torch.from_numpy(values.astype(np.float32).reshape(1, 3, SIZE, SIZE))


def settings(stem):
    _, seed, target, reshape = MODELS[stem]
    return {'stem': stem, 'torchvision_builder': f'torchvision.models.{stem}(weights=None).eval()',
            'input_shape': [1, 3, SIZE, SIZE], 'seed': seed, 'weight_rule': WEIGHT_RULE, 'export_call': EXPORT_CALL,
            'opset': OPSET, 'torch': torch.__version__, 'torchvision': torchvision.__version__}


def export(stem, out):
    onnx_path, json_path = os.path.join(out, stem + '.onnx'), os.path.join(out, stem + '.json')
    wanted = settings(stem)
    if os.path.exists(onnx_path) and os.path.exists(json_path):
        with open(json_path) as f:
            if json.load(f).get('settings') == wanted:
                print(f'# export.py: {stem}.onnx is up to date', flush=True)
                return
    start = time.time()
    model, checksum = build(stem)
    x = cambench_input()
    # With gradients on, as pytorch-grad-cam runs the model (under no_grad torchvision's ViT takes
    # the fused MultiheadAttention fast path, whose rounding differs in the last bits).
    logits = model(x).detach().numpy()[0]
    assert np.isfinite(logits).all(), stem
    temporary = onnx_path + '.partial'
    # Traced with gradients on as well: under no_grad the ViT's fast path is an operator
    # (aten::_native_multi_head_attention) that the TorchScript exporter cannot write. The legacy
    # exporter's DeprecationWarning and the ViT's TracerWarnings (shape asserts) are expected.
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        torch.onnx.export(model, (x,), temporary, dynamo=False, opset_version=OPSET, input_names=['input'],
                          output_names=['logits'], do_constant_folding=True)
    os.replace(temporary, onnx_path)
    _, _, target, reshape = MODELS[stem]
    meta = {'settings': wanted, 'target_layer': target, 'reshape': reshape, 'class': 281,
            'weights_checksum': checksum, 'parameters': int(sum(p.numel() for p in model.parameters())),
            'onnx_bytes': os.path.getsize(onnx_path), 'max_abs_logit': float(np.abs(logits).max()),
            'cambench_input_logits': [float(v) for v in logits]}
    with open(json_path + '.partial', 'w') as f:
        json.dump(meta, f)
    os.replace(json_path + '.partial', json_path)
    print(f'# export.py: {stem}.onnx {os.path.getsize(onnx_path) / 1e6:.1f} MB in {time.time() - start:.1f} s',
          flush=True)


if __name__ == '__main__':
    if len(sys.argv) < 2:
        sys.exit('usage: export.py OUTDIR [stem ...]')
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(2)
    for stem in sys.argv[2:] or list(MODELS):
        export(stem, out)
