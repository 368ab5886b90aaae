#!/usr/bin/env python3
"""Shows why `GradCAM|_blocks.10|explicit|aug1|eigen0` (EfficientNet-Lite0) is not reproducible.

pytorch-grad-cam's forward_augmentation_smoothing, replayed pass by pass on the fixture's
weights and input (tools/fixtures/gen_cam.py), with three independent computations of each pass:
PyTorch float32 on 1 thread (how the fixture was made), PyTorch float32 on 2 threads, and
float64. For every pass it prints the CAM range before min-max, the relative differences of
A = block 10's output and G = dS/dA, and every ReLU6 pre-activation whose mask (0 < x < 6)
differs between the computations. With `--swift DUMP` it also reads the Swift network's BN
outputs (ReLU6 inputs) and G per pass, keys `p<k>|call<i>` and `p<k>|G`, and compares them too.
Finally it scores the float64 computation of every EfficientNet-Lite0 case against the fixture.

Run: python3 tools/diagnostics/aug_smoothing_conditioning.py [--swift /tmp/swift_preacts.safetensors]
"""
import copy
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'fixtures'))
import gen_cam as G  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import pytorch_grad_cam as pgc  # noqa: E402
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget  # noqa: E402
from safetensors.numpy import load_file  # noqa: E402

CASE = 'GradCAM|_blocks.10|explicit|aug1|eigen0'
CLASS = 538


def fixture():
    import json
    meta = json.load(open(os.path.join(G.OUT, 'efficientnet_lite0.json')))
    ref = {}
    for f in meta['files']:
        ref.update(load_file(os.path.join(G.OUT, f)))
    return meta, ref


def one_pass(net, inp):
    """Logits, A, G at _blocks.10 and every ReLU6 input (in call order) for the target class."""
    pre, kept = [], {}
    hooks = [m.register_forward_hook(lambda m, i, o: pre.append(i[0].detach().clone()))
             for m in net.modules() if isinstance(m, torch.nn.ReLU6)]

    def keep(m, i, o):
        o.retain_grad()
        kept['A'] = o
    hooks.append(net._blocks[10].register_forward_hook(keep))
    out = net(inp)
    out[0, CLASS].backward()
    for h in hooks:
        h.remove()
    net.zero_grad()
    return out.detach(), kept['A'].detach(), kept['A'].grad.detach(), pre


def relu6_calls():
    """Names of the ReLU6 calls in order: stem, block 0 (one), blocks 1-15 (two each), head."""
    names = ['_bn0'] + ['_blocks.0._bn1']
    for b in range(1, 16):
        names += [f'_blocks.{b}._bn0', f'_blocks.{b}._bn1']
    return names + ['_bn1']


def rel(a, b):
    return float((a.double() - b.double()).abs().max() / b.double().abs().max())


def main():
    swift = None
    if '--swift' in sys.argv:
        swift = load_file(sys.argv[sys.argv.index('--swift') + 1])
    meta, ref = fixture()
    torch.set_num_threads(1)
    model = G.EfficientNetLite0().eval()
    G.seeded_weights(model, 0)
    x = G.photo_input(96, [0.5] * 3, [0.5] * 3)
    assert np.array_equal(x.numpy(), ref['input'])
    m64 = copy.deepcopy(model).double()
    names = relu6_calls()
    cam = pgc.GradCAM(model=model, target_layers=[model._blocks[10]])
    for k, t in enumerate(cam.tta_transforms):
        aug = t.augment_image(x)
        torch.set_num_threads(1)
        _, a1, g1, p1 = one_pass(model, aug)
        torch.set_num_threads(2)
        _, _, g2, p2 = one_pass(model, aug)
        torch.set_num_threads(1)
        _, a64, g64, p64 = one_pass(m64, aug.double())
        raw = np.maximum((g1.mean(dim=(2, 3))[:, :, None, None] * a1).sum(dim=1).numpy(), 0)
        print(f'pass {k} {t.params if hasattr(t, "params") else ""}: relu(cam) range {raw.max() - raw.min():.4g}; '
              f'A f32 vs f64 {rel(a1, a64):.2g}; G rel to f64: 1 thread {rel(g1, g64):.3g}, 2 threads {rel(g2, g64):.3g}'
              + (f', swift {rel(torch.from_numpy(swift[f"p{k}|G"]), g64):.3g}' if swift else '')
              + f'; G 1 thread vs 2 threads {rel(g2, g1):.3g}')
        for i, name in enumerate(names):
            values = {'torch32/1t': p1[i], 'torch32/2t': p2[i], 'float64': p64[i]}
            if swift:
                values['swift'] = torch.from_numpy(swift[f'p{k}|call{i}'])
            masks = {key: (v > 0) & (v < 6) for key, v in values.items()}
            differs = torch.zeros_like(masks['float64'])
            for m in masks.values():
                differs |= m != masks['float64']
            for pos in differs.nonzero().tolist():
                pos = tuple(pos)
                shown = ', '.join(f'{key} {v[pos].item():.9g}' for key, v in values.items())
                print(f'    ReLU6 input {name} {pos[1:]}: {shown}')
    print('float64 computation of every case (ScoreCAM/AblationCAM skipped) vs the float32 fixture:')
    mods = {'_blocks.15': m64._blocks[15], '_blocks.10': m64._blocks[10]}
    for c in meta['cases']:
        if c['method'] in ('GuidedBackprop', 'ScoreCAM', 'AblationCAM'):
            continue
        spec = None if c['target'] is None else (c['target']['kind'], c['target']['classes'])
        G.SVD_STATE.update(mode='rule' if c.get('sign_rule_variant') else 'numpy')
        out = G.run_cam(m64, c['method'], [mods[n] for n in c['layers']], x.double(), spec,
                        c['aug_smooth'], c['eigen_smooth'])
        diff = np.abs(out - ref[c.get('sign_rule_variant') or c['name']]).max()
        print(f'  {diff:9.3g}{"  > 1e-3" if diff > 1e-3 else ""}  {c["name"]}')
    torch.set_num_threads(2)
    c2 = pgc.GradCAM(model=model, target_layers=[model._blocks[10]])
    out = np.float32(c2(input_tensor=x, targets=[ClassifierOutputTarget(CLASS)], aug_smooth=True))
    print(f'PyTorch float32 on 2 threads, {CASE}: max |diff| vs the 1-thread fixture {np.abs(out - ref[CASE]).max():.4g}')


if __name__ == '__main__':
    main()
