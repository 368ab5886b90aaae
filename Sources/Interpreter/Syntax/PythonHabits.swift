import CAMRuntime

/// pytorch-grad-cam's, PyTorch's and numpy's names and forms, beside CAMScript's for the same
/// thing. The diagnostics consult it, so that a Python habit gets a pointer to the CAMScript
/// way, not only "undefined name" (a workshop of Python users meets every row in its first hour).
enum PythonHabits {
    /// One habit: what Python users write, and what CAMScript writes.
    struct Habit: Sendable {
        var python: String
        var camscript: String
    }

    /// Names that are undefined in CAMScript (classes, functions, modules, Python's constants).
    static let names: [String: Habit] = {
        var table: [String: Habit] = [
            "import": Habit(python: "import torch", camscript: "no imports: every builtin is always there (`help` lists them)"),
            "from": Habit(python: "from pytorch_grad_cam import GradCAM", camscript: "no imports: every builtin is always there (`help` lists them)"),
            "show_cam_on_image": Habit(python: "show_cam_on_image(img, grayscale_cam, use_rgb=True)", camscript: "overlay c img"),
            "ClassifierOutputTarget": Habit(python: "targets=[ClassifierOutputTarget(281)]", camscript: "target=281 (or a label: target=\"tabby\")"),
            "ClassifierOutputSoftmaxTarget": Habit(python: "targets=[ClassifierOutputSoftmaxTarget(281)]", camscript: "target=281 softmax=true"),
            "preprocess_image": Habit(python: "preprocess_image(rgb_img, mean=…, std=…)", camscript: "x = preprocess img model"),
            "torch": Habit(python: "torch.…", camscript: "tensors are built in: zeros([3, 224, 224]), x.mean, x[0]; no torch"),
            "np": Habit(python: "np.…", camscript: "tensors are built in: zeros([3, 224, 224]), x.mean, x[0]; no numpy"),
            "numpy": Habit(python: "numpy.…", camscript: "tensors are built in: zeros([3, 224, 224]), x.mean, x[0]; no numpy"),
            "cv2": Habit(python: "cv2.imread(path)", camscript: "img = load \"photo.jpg\""),
            "plt": Habit(python: "plt.imshow(vis)", camscript: "show vis"),
            "Image": Habit(python: "Image.open(path)", camscript: "img = load \"photo.jpg\""),
            "True": Habit(python: "True", camscript: "true"),
            "False": Habit(python: "False", camscript: "false"),
            "None": Habit(python: "None", camscript: "none"),
        ]
        for method in CAMMethods.all {
            table[method.className] = Habit(python: "\(method.className)(model=model, target_layers=[model.layer4[-1]])(input_tensor=x)",
                                            camscript: "c = \(method.builtin) model x layer=\"layer4[-1]\"")
        }
        return table
    }()

    /// Keyword arguments of pytorch-grad-cam that CAMScript spells otherwise or does not need.
    static let keywords: [String: Habit] = [
        "target_layers": Habit(python: "target_layers=[model.layer4[-1]]", camscript: "layer=\"layer4[-1]\" (a module path as a string)"),
        "targets": Habit(python: "targets=[ClassifierOutputTarget(281)]", camscript: "target=281 (a list for a batch)"),
        "input_tensor": Habit(python: "cam(input_tensor=x)", camscript: "the tensor as the second argument: gradcam model x"),
        "use_cuda": Habit(python: "use_cuda=True", camscript: "nothing: CAMScript runs on the CPU"),
        "device": Habit(python: "device=\"cuda\"", camscript: "nothing: CAMScript runs on the CPU"),
        "reshape_transform": Habit(python: "reshape_transform=reshape_transform", camscript: "nothing, or tokens=1: a transformer's tokens become a grid by themselves"),
        "use_rgb": Habit(python: "show_cam_on_image(…, use_rgb=True)", camscript: "nothing: overlay works in RGB"),
    ]

    /// Members PyTorch users ask of a model or a tensor.
    static let members: [String: Habit] = [
        "eval": Habit(python: "model.eval()", camscript: "nothing: models are always in evaluation mode"),
        "train": Habit(python: "model.train()", camscript: "nothing: CAMScript explains models, it does not train them"),
        "cuda": Habit(python: "model.cuda()", camscript: "nothing: CAMScript runs on the CPU"),
        "cpu": Habit(python: "x.cpu()", camscript: "nothing: everything is on the CPU"),
        "to": Habit(python: "model.to(device)", camscript: "nothing: CAMScript runs on the CPU"),
        "numpy": Habit(python: "x.numpy()", camscript: "x itself (save x \"x.npy\" writes it for numpy)"),
        "detach": Habit(python: "x.detach()", camscript: "x itself: values carry no gradients"),
        "unsqueeze": Habit(python: "x.unsqueeze(0)", camscript: "x itself: the CAM builtins take [3, H, W] or a batch [N, 3, H, W]"),
    ]

    /// The pointer for a habit, to append to an error message.
    static func pointer(_ habit: Habit) -> String {
        "; in CAMScript: \(habit.camscript) (Python: \(habit.python))"
    }

    /// The pointer for an undefined name, or nil.
    static func name(_ name: String) -> String? { names[name].map(pointer) }
    /// The pointer for an unknown keyword argument, or nil.
    static func keyword(_ key: String) -> String? { keywords[key].map(pointer) }
    /// The pointer for a missing member, or nil.
    static func member(_ name: String) -> String? { members[name].map(pointer) }

    /// `with …:` — the parser's pointer.
    static let with = Habit(python: "with open(path) as f:", camscript: "no `with`: load and save open and close files themselves")
    /// `c[0, :]` — the parser's pointer.
    static let multiAxisIndex = Habit(python: "c[0, :]", camscript: "one axis at a time, c[0] (c[0][1] for two); there are no `:` slices")
}
