"""examples/seed.cam written the way a pytorch-grad-cam 1.5.7 user would write it.

The same work, step for step (bench/seed/run.sh times both as whole processes):
  model = load "resnet50" weights=env("RESNET50_WEIGHTS", ...)   torchvision resnet50 + load_state_dict(.pth)
  img = load env("SEED_IMAGE", ...); print img.size               PIL open + convert("RGB")
  x = preprocess img model                                         ResNet50_Weights.IMAGENET1K_V2's preset, applied
                                                                   with PIL: shorter side 232 bilinear (antialiased),
                                                                   centre crop 224, to_tensor, ImageNet mean/std
  cam = gradcam model x layer="layer4[-1]"; print cam...          GradCAM, targets=None (top class)
  vis1 = overlay cam x                                             show_cam_on_image(float32(crop)/255, cam, use_rgb=True)
  cam2 = gradcam_elementwise ... target=281; vis2 = overlay ...   GradCAMElementWise, ClassifierOutputTarget(281)
  save hstack(resize(img, 224, 224), vis1, vis2) "out/..."        PIL resize((224, 224), BILINEAR), np.hstack, PIL save

CAMScript's `overlay cam x` recovers the 8-bit crop from a tensor straight out of `preprocess`,
so it equals show_cam_on_image(np.float32(crop) / 255, cam) as done here; its `resize` is PIL's
Image.resize with the same filter and `hstack` of equal heights is np.hstack. The two PNGs are
therefore equal up to the documented tolerances: the CAMs agree to ~1e-4 relative (measured on
2026-11-30 with random weights: 1.8e-6 max abs), and where such a difference moves
uint8(255·cam) to the next JET colour an overlay pixel differs by a few levels (measured: at most
3 levels in 23 of 150,528 pixels). bench/seed/run.sh compares the two PNGs on every run.

Environment: RESNET50_WEIGHTS (a torchvision ResNet-50 state dict, .pth), SEED_IMAGE (default
examples/images/chelsea.png), SEED_OUT (default out/cam_compare.png, relative to the current
folder), SEED_TIMINGS=1 prints the time of each step to stderr.
"""
import os
import sys
import time
import types

_start = time.perf_counter()
_steps = []


def _step(name):
    _steps.append((name, time.perf_counter()))


# torchvision's C extension cannot load here; its meta registrations need it, nothing else does.
sys.modules["torchvision._meta_registrations"] = types.ModuleType("torchvision._meta_registrations")
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torchvision  # noqa: E402
from PIL import Image  # noqa: E402
from torchvision import transforms  # noqa: E402
from torchvision.models import ResNet50_Weights  # noqa: E402
from pytorch_grad_cam import GradCAM, GradCAMElementWise  # noqa: E402
from pytorch_grad_cam.utils.image import show_cam_on_image  # noqa: E402
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget  # noqa: E402

_step("import torch, torchvision, pytorch_grad_cam")

here = os.path.dirname(os.path.abspath(__file__))
repo = os.path.dirname(os.path.dirname(here))

# Load the model and the photo.
model = torchvision.models.resnet50(weights=None)
model.load_state_dict(torch.load(os.environ.get("RESNET50_WEIGHTS", "resnet50.pth"), map_location="cpu"))
model.eval()
_step("load model")
img = Image.open(os.environ.get("SEED_IMAGE", os.path.join(repo, "examples/images/chelsea.png"))).convert("RGB")
print(list(img.size))
_step("load image")

# Preprocess: the V2 weights' own preset, with PIL (what `preprocess` does).
preset = ResNet50_Weights.IMAGENET1K_V2.transforms()
crop = transforms.CenterCrop(preset.crop_size)(
    transforms.Resize(preset.resize_size, interpolation=preset.interpolation, antialias=True)(img))
rgb_img = np.float32(crop) / 255
x = transforms.Normalize(preset.mean, preset.std)(transforms.ToTensor()(crop)).unsqueeze(0)
print(list(x.shape[1:]))
_step("preprocess")

# Two CAMs.
target_layers = [model.layer4[-1]]
with GradCAM(model=model, target_layers=target_layers) as method:
    cam = method(input_tensor=x, targets=None)[0]
print(list(cam.shape), float(cam.min()), float(cam.max()))
vis1 = show_cam_on_image(rgb_img, cam, use_rgb=True)
_step("GradCAM + overlay")
with GradCAMElementWise(model=model, target_layers=target_layers) as method:
    cam2 = method(input_tensor=x, targets=[ClassifierOutputTarget(281)])[0]
vis2 = show_cam_on_image(rgb_img, cam2, use_rgb=True)
_step("GradCAMElementWise + overlay")

# Side by side.
out = os.environ.get("SEED_OUT", "out/cam_compare.png")
left = np.asarray(img.resize((224, 224), Image.BILINEAR))
Image.fromarray(np.hstack((left, vis1, vis2))).save(out)
print("wrote", out)
_step("hstack + save PNG")

if os.environ.get("SEED_TIMINGS") == "1":
    previous = _start
    for name, at in _steps:
        print(f"# {name}: {1000 * (at - previous):.0f} ms", file=sys.stderr)
        previous = at
