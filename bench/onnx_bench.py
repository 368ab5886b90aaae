#!/usr/bin/env python3
"""The peers' figures for bench/run.sh's CAMBENCH_ONNX comparison (issue 15), on the models
bench/onnx/export.py wrote to DIR.

Usage: python3 bench/onnx_bench.py ort|torch DIR [repeats]
  ort:   onnxruntime (CPUExecutionProvider, intra_op_num_threads=2, inter_op_num_threads=1,
         ORT_SEQUENTIAL, default graph optimizations) runs each DIR/<stem>.onnx: "forward".
  torch: the same network in PyTorch (export.build re-creates it with the weights of the .onnx and
         checks their checksum against DIR/<stem>.json), torch.set_num_threads(2): "forward" (under
         no_grad) and pytorch-grad-cam's GradCAM at the .json's target layer (the tutorial targets:
         layer4[-1], features[-1], encoder.layers[-1].ln_1 with the tutorial reshape_transform for
         ViT; class 281): "gradcam".
The two sides run as separate processes so that neither's thread pool spins beside the other's.
Both time CAMBench's input (export.cambench_input). One line per case, as bench/pytorch_bench.py:
"<stem>.onnx <op> 1 <median ms>" (the median of the repeats, after a warm-up); "#" lines say what
ran and how far the logits are from the PyTorch logits recorded at export.
"""
import glob
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'onnx'))
import export  # noqa: E402  (installs the torchvision import quirk)
from export import np, torch  # noqa: E402


def median(values):
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def timed(fn):
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def resolve(model, path):
    """'encoder.layers[-1].ln_1' -> that module."""
    obj = model
    for part in path.replace('[', '.[').split('.'):
        obj = obj[int(part[1:-1])] if part.startswith('[') else getattr(obj, part)
    return obj


def vit_reshape_transform(tensor, height=14, width=14):
    """pytorch-grad-cam's ViT tutorial reshape_transform (drop the class token, 196 tokens -> 14x14)."""
    result = tensor[:, 1:, :].reshape(tensor.size(0), height, width, tensor.size(2))
    return result.transpose(2, 3).transpose(1, 2)


def main():
    if len(sys.argv) < 3 or sys.argv[1] not in ('ort', 'torch'):
        sys.exit('usage: onnx_bench.py ort|torch DIR [repeats]')
    side, folder = sys.argv[1], sys.argv[2]
    repeats = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    paths = sorted(glob.glob(os.path.join(folder, '*.onnx')))
    x = export.cambench_input()
    if side == 'ort':
        import onnxruntime as ort
        options = ort.SessionOptions()
        options.intra_op_num_threads = 2
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        print(f'# onnxruntime {ort.__version__}, CPUExecutionProvider, intra_op 2, inter_op 1, sequential, '
              f'median of {repeats}', flush=True)
        feed = {'input': x.numpy()}
    else:
        from pytorch_grad_cam import GradCAM
        from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
        from importlib.metadata import version
        torch.set_num_threads(2)
        print(f'# PyTorch {torch.__version__}, {torch.get_num_threads()} threads, ATen '
              f'{torch.backends.cpu.get_cpu_capability()} kernels, pytorch-grad-cam '
              f'{version("grad-cam")}, OMP_WAIT_POLICY='
              f'{os.environ.get("OMP_WAIT_POLICY", "default")}, median of {repeats}', flush=True)
    for path in paths:
        stem = os.path.splitext(os.path.basename(path))[0]
        label = stem + '.onnx'
        with open(os.path.join(folder, stem + '.json')) as f:
            meta = json.load(f)
        reference = np.array(meta['cambench_input_logits'], dtype=np.float64)
        if side == 'ort':
            session = ort.InferenceSession(path, options, providers=['CPUExecutionProvider'])
            logits = session.run(['logits'], feed)[0]
            diff = float(np.abs(logits[0] - reference).max())
            print(f'# {label}: onnxruntime logits vs PyTorch: max abs diff {diff:.3g} (max |logit| '
                  f'{meta["max_abs_logit"]:.4g})', flush=True)
            times = [timed(lambda: session.run(['logits'], feed)) for _ in range(repeats)]
            print(f'{label} forward 1 {median(times):.1f}', flush=True)
            del session
            continue
        model, checksum = export.build(stem)
        if checksum != meta['weights_checksum']:
            sys.exit(f'onnx_bench.py: {stem}: re-created weights differ from the .onnx ones (checksum {checksum} '
                     f'vs {meta["weights_checksum"]}); delete {folder} and rerun bench/onnx/export.py')

        def forward():
            with torch.no_grad():
                return model(x)

        diff = float(np.abs(forward().numpy()[0] - reference).max())
        print(f'# {label}: PyTorch no_grad logits vs export: max abs diff {diff:.3g}', flush=True)
        print(f'{label} forward 1 {median([timed(forward) for _ in range(repeats)]):.1f}', flush=True)
        reshape = vit_reshape_transform if meta['reshape'] == 'vit' else None
        cam = GradCAM(model=model, target_layers=[resolve(model, meta['target_layer'])], reshape_transform=reshape)
        targets = [ClassifierOutputTarget(meta['class'])]

        def gradcam():
            cam(input_tensor=x, targets=targets)

        gradcam()
        print(f'{label} gradcam 1 {median([timed(gradcam) for _ in range(repeats)]):.1f}', flush=True)
        del cam, model


if __name__ == '__main__':
    main()
