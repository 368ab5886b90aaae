#!/usr/bin/env python3
"""PyTorch's figures for bench/run.sh: ResNet-50 (torchvision) and EfficientNet-Lite0 (the
definition of tools/fixtures/gen_runtime.py), random weights, 2 threads, the inference forward
(no_grad) and forward + backward to the input, batch 1 and 16, and pytorch-grad-cam's GradCAM
at the last block (layer4[-1], _blocks[-1]; class 281; batch 1) when grad-cam is installed, and
on ResNet-50 EigenCAM and, with CAMBENCH_SLOW=1, AblationCAM and ScoreCAM (each timed once: about
two minutes per call). "decode" times PIL.Image.open(path).convert("RGB") alone and with the
torchvision weights transforms (ResNet50_Weights.IMAGENET1K_V2: 232 bilinear; EfficientNet-Lite0:
ImageClassification(256 bicubic, crop 224, mean = std = 0.5)) for CAMBENCH_JPEG and
CAMBENCH_IMAGES (default examples/images/chelsea.png). One line per case:
"<model> <op> <batch> <median ms>" (the median of the repeats, after a warm-up)."""
import os, sys, time, types
import torch

sys.modules['torchvision._meta_registrations'] = types.ModuleType('torchvision._meta_registrations')
import torchvision  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tools', 'fixtures'))
from gen_runtime import EfficientNetLite0  # noqa: E402

from PIL import Image  # noqa: E402
from torchvision.transforms import InterpolationMode  # noqa: E402
from torchvision.transforms._presets import ImageClassification  # noqa: E402

try:
    from pytorch_grad_cam import GradCAM, EigenCAM, AblationCAM, ScoreCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
    from pytorch_grad_cam.metrics.road import ROADCombined
except ImportError:
    GradCAM = None

torch.set_num_threads(2)
operations = set(os.environ.get('CAMBENCH_OPS', 'forward,forward+backward,gradcam,eigencam,decode').split(','))
if os.environ.get('CAMBENCH_SLOW') == '1':
    operations |= {'ablationcam', 'scorecam', 'road', 'curves', 'sanity'}
repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 5
print(f'# PyTorch {torch.__version__}, {torch.get_num_threads()} threads, ATen {torch.backends.cpu.get_cpu_capability()} kernels, '
      f'ONEDNN_MAX_CPU_ISA={os.environ.get("ONEDNN_MAX_CPU_ISA", "unset")}, median of {repeats}')


def best(values):
    """The median (issue 7 asks for medians: the minimum flatters whichever side had a quiet moment)."""
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def timed(fn):
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def benchmark_decoding(path):
    def decode():
        with Image.open(path) as image:
            return image.convert('RGB')

    image = decode()
    label = f'{os.path.basename(path)}-{image.width}x{image.height}'
    print(f'{label} decode 1 {best([timed(decode) for _ in range(repeats)]):.1f}')
    presets = [('resnet_v2', torchvision.models.ResNet50_Weights.IMAGENET1K_V2.transforms()),
               ('efficientnet_lite0', ImageClassification(crop_size=224, resize_size=256, mean=(0.5, 0.5, 0.5),
                                                          std=(0.5, 0.5, 0.5),
                                                          interpolation=InterpolationMode.BICUBIC))]
    for name, transform in presets:
        def total():
            transform(decode())

        print(f'{label} decode+{name} 1 {best([timed(total) for _ in range(repeats)]):.1f}')


if 'decode' in operations:
    jpeg = os.environ.get('CAMBENCH_JPEG')
    for path in ([jpeg] if jpeg else []) + os.environ.get('CAMBENCH_IMAGES', 'examples/images/chelsea.png').split(','):
        benchmark_decoding(path)

models = os.environ.get('CAMBENCH_MODELS', 'resnet50,efficientnet_lite0').split(',')
batches = [int(b) for b in os.environ.get('CAMBENCH_BATCHES', '1,16').split(',')]
for name in models:
    model = torchvision.models.resnet50(weights=None) if name == 'resnet50' else EfficientNetLite0()
    model.eval()
    for batch in batches:
        x = torch.randn(batch, 3, 224, 224)
        n = repeats if batch == 1 else max(2, repeats // 2)

        def forward():
            with torch.no_grad():
                model(x)

        def forward_backward():
            xi = x.clone().requires_grad_(True)
            model(xi)[:, 281].sum().backward()

        if 'forward' in operations:
            forward()
            print(f'{name} forward {batch} {best([timed(forward) for _ in range(n)]):.1f}')
        if 'forward+backward' in operations:
            forward_backward()
            print(f'{name} forward+backward {batch} {best([timed(forward_backward) for _ in range(n)]):.1f}')
        if 'gradcam' in operations and batch == 1 and GradCAM is not None:
            layer = model.layer4[-1] if name == 'resnet50' else model._blocks[-1]
            cam = GradCAM(model=model, target_layers=[layer])
            targets = [ClassifierOutputTarget(281)]

            def gradcam():
                cam(input_tensor=x, targets=targets)

            gradcam()
            print(f'{name} gradcam {batch} {best([timed(gradcam) for _ in range(n)]):.1f}')
        if name == 'resnet50' and batch == 1 and GradCAM is not None:
            methods = [('eigencam', EigenCAM, n), ('ablationcam', AblationCAM, 1), ('scorecam', ScoreCAM, 1)]
            for op, method, runs in methods:
                if op not in operations:
                    continue
                cam = method(model=model, target_layers=[model.layer4[-1]])
                targets = [ClassifierOutputTarget(281)]

                def run():
                    cam(input_tensor=x, targets=targets)

                if runs > 1:
                    run()
                print(f'{name} {op} {batch} {best([timed(run) for _ in range(runs)]):.1f}')
        if name == 'resnet50' and batch == 1 and GradCAM is not None and 'road' in operations:
            # ROADCombined (percentiles 10..90, NoisyLinearImputer's noise 0.01) of the GradCAM map
            # at layer4[-1], class 281: 18 scipy spsolve imputations and 19 forward passes.
            targets = [ClassifierOutputTarget(281)]
            with GradCAM(model=model, target_layers=[model.layer4[-1]]) as cam:
                maps = cam(input_tensor=x, targets=targets)
            road = ROADCombined(percentiles=[10, 20, 30, 40, 50, 60, 70, 80, 90])

            def run_road():
                road(x, maps, targets, model)

            runs = max(1, min(3, n))
            if runs > 1:
                run_road()
            print(f'{name} road_combined {batch} {best([timed(run_road) for _ in range(runs)]):.1f}')
        if name == 'resnet50' and batch == 1 and GradCAM is not None and 'curves' in operations:
            # TorchCAM's DeletionInsertionMetric at 224 steps (zero baseline, softmax, its default
            # batches of 32) of the GradCAM map at layer4[-1], class 281: its update() with an
            # extractor that returns the stored map, so only the curves are timed (448 forwards).
            from torchcam.metrics import DeletionInsertionMetric
            import contextlib
            with GradCAM(model=model, target_layers=[model.layer4[-1]]) as cam:
                stored = torch.from_numpy(cam(input_tensor=x, targets=[ClassifierOutputTarget(281)]))

            class StoredMap:
                def __init__(self):
                    self.model = model

                def __call__(self, class_idx, scores=None, **kwargs):
                    return [stored]

                def fuse_cams(self, cams):
                    return cams[0]

                def _hooks_off(self):
                    return contextlib.nullcontext()

            metric = DeletionInsertionMetric(StoredMap(), lambda t: torch.softmax(t, dim=-1), steps=224, batch_size=32)

            def run_curves():
                metric.update(x, class_idx=281)

            runs = max(1, min(3, n))
            if runs > 1:
                run_curves()
            print(f'{name} deletion+insertion {batch} {best([timed(run_curves) for _ in range(runs)]):.1f}')
        if name == 'resnet50' and batch == 1 and GradCAM is not None and 'sanity' in operations:
            # Quantus' MPRT (cascading, top down: 107 reset_parameters() modules) with
            # pytorch-grad-cam's GradCAM at layer4[-1], class 281, as the explanation after each
            # step, compared by Spearman (Quantus' default similarity).
            import warnings
            import numpy as np
            import quantus
            if not hasattr(np, 'trapz'):
                np.trapz = np.trapezoid  # Quantus 0.6 still calls numpy's removed name

            def explain(model, inputs, targets, **kwargs):
                with GradCAM(model=model, target_layers=[model.layer4[-1]]) as cam:
                    maps = cam(input_tensor=torch.as_tensor(inputs), targets=[ClassifierOutputTarget(int(t)) for t in targets])
                return maps[:, None, :, :]

            x_np, y_np = x.numpy(), np.array([281])
            a_np = explain(model, x_np, y_np)

            def run_sanity():
                with warnings.catch_warnings():
                    warnings.simplefilter('ignore')
                    mprt = quantus.MPRT(layer_order='top_down', disable_warnings=True, display_progressbar=False)
                    mprt(model=model, x_batch=x_np, y_batch=y_np, a_batch=a_np, explain_func=explain, device='cpu', batch_size=1)

            runs = max(1, min(3, n))
            if runs > 1:
                run_sanity()
            print(f'{name} sanity_model_layers {batch} {best([timed(run_sanity) for _ in range(runs)]):.1f}')
