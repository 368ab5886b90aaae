import CAMRuntime
import Foundation
import Interpreter
import XCTest

/// End-to-end tests of the runtime builtins that need files: checkpoints written here with
/// random weights, photos from examples/images, the normative seed script verbatim, and the
/// shipped examples.
final class ScriptRuntimeTests: ScriptFolderTestCase {
    /// The design's normative seed, verbatim, on a random-weight ResNet-50 saved as
    /// safetensors under the name resnet50.pth and a 474×315 JPEG.
    func testSeedScriptVerbatim() throws {
        let seed = """
        # %% Grad-CAM vs Grad-CAM element-wise
        model = load "resnet50" weights="resnet50.pth"      # any torchvision ResNet-50 checkpoint
        img = load "bird.jpg"
        print img.size                                      # [474, 315]
        x = preprocess img model                            # the weights' own transforms
        print x.shape                                       # [3, 224, 224]
        cam = gradcam model x layer="layer4[-1]"            # no target: the top class
        print cam.shape cam.min cam.max                     # [224, 224] 0 1 (approximately)
        vis1 = overlay cam x
        cam2 = gradcam_elementwise model x layer="layer4[-1]" target=281
        vis2 = overlay cam2 x
        save hstack(resize(img, 224, 224), vis1, vis2) "cam_compare.png"
        """
        try writeCheckpoint("resnet50", named: "resnet50.pth")
        let photo = try RGBImage(contentsOf: ScriptRuntimeTests.photos.appendingPathComponent("chelsea.png"))
        try photo.resized(width: 474, height: 315, interpolation: .bilinear).write(to: folder.appendingPathComponent("bird.jpg"))
        let (lines, error) = run(seed)
        XCTAssertNil(error)
        XCTAssertEqual(lines.count, 3, "\(lines)")
        guard lines.count == 3 else { return }
        XCTAssertEqual(lines[0], "[474, 315]")
        XCTAssertEqual(lines[1], "[3, 224, 224]")
        let parts = lines[2].components(separatedBy: "] ")
        XCTAssertEqual(parts.first, "[224, 224")
        let numbers = (parts.last ?? "").split(separator: " ").compactMap { Double($0) }
        XCTAssertEqual(numbers.count, 2)
        XCTAssertEqual(numbers.first ?? -1, 0, accuracy: 1e-6)
        XCTAssertEqual(numbers.last ?? -1, 1, accuracy: 1e-6)
        let saved = try RGBImage(contentsOf: folder.appendingPathComponent("cam_compare.png"))
        XCTAssertEqual([saved.width, saved.height], [672, 224])
    }

    /// `overlay cam x` with the tensor from `preprocess` equals show_cam_on_image on the 8-bit
    /// crop divided by 255 (the crop is recovered exactly from the tensor).
    func testOverlayOfPreprocessedTensorUsesTheExactCrop() throws {
        let script = """
        model = random_model "resnet18"
        img = load "\(ScriptRuntimeTests.photos.appendingPathComponent("coffee.png").path)"
        x = preprocess img model resize=80 crop=64
        c = gradcam model x layer="layer3"
        v = overlay c x
        w = overlay c x mean=[0.4, 0.4, 0.4] std=[0.3, 0.3, 0.3]
        """
        let sink = CollectingSink()
        let session = Session(output: sink, baseDirectory: folder.path, environment: ["HOME": folder.path])
        XCTAssertNil(session.run(source: script, fileName: "overlay.cam").diagnostic)
        guard case .object(let v as ImageObject)? = session.value(named: "v"),
              case .object(let w as ImageObject)? = session.value(named: "w"),
              case .object(let c as CAMObject)? = session.value(named: "c") else {
            return XCTFail("missing values")
        }
        let photo = try RGBImage(contentsOf: ScriptRuntimeTests.photos.appendingPathComponent("coffee.png"))
        var preset = InputPreset.resnetV1
        preset.resizeShorterSide = 80
        preset.cropSize = 64
        let crop = preprocessedCrop(photo, preset: preset)
        let expected = try overlay(crop, mask: c.result.map.slice(0))
        XCTAssertEqual(v.image, expected)
        // With another normalisation the values are no exact pixels: the denormalised floats are used.
        XCTAssertNotEqual(w.image, expected)
    }

    func testCheckpointArchitectureIsDetectedAndArchMustFit() throws {
        try writeCheckpoint("resnet18", named: "r18.safetensors")
        var result = run("m = load \"r18.safetensors\"\nprint m.architecture m.default_layer")
        XCTAssertNil(result.error)
        XCTAssertEqual(result.lines, ["resnet18 layer4"])
        result = run("m = load \"resnet18\" weights=\"r18.safetensors\"\nprint m.architecture")
        XCTAssertEqual(result.lines, ["resnet18"])
        result = run("m = load \"r18.safetensors\" arch=\"resnet34\"")
        XCTAssertTrue(result.error?.hasPrefix("load: the checkpoint does not fit resnet34: missing keys (") ?? false, "\(result)")
        result = run("m = load \"resnet50\" weights=\"r18.safetensors\"")
        XCTAssertTrue(result.error?.hasPrefix("load: the checkpoint does not fit resnet50:") ?? false, "\(result)")
        result = run("m = load \"r18.safetensors\" weights=\"r18.safetensors\"")
        XCTAssertEqual(result.error, "load: weights= is for architecture names (load \"resnet50\" weights=\"file.pth\"); \"r18.safetensors\" is already a checkpoint")
    }

    func testCorruptCheckpointsAndNonImagesAreRefusedWithAMessage() throws {
        try Data("this is not a checkpoint".utf8).write(to: folder.appendingPathComponent("bad.pth"))
        var result = run("m = load \"bad.pth\"")
        XCTAssertTrue(result.error?.hasPrefix("load: ") ?? false, "\(result)")
        XCTAssertTrue(result.error?.contains("bad.pth") ?? false, "\(result)")
        try writeCheckpoint("resnet18", named: "full.safetensors")
        let bytes = try Data(contentsOf: folder.appendingPathComponent("full.safetensors"))
        try bytes.prefix(bytes.count / 2).write(to: folder.appendingPathComponent("half.safetensors"))
        result = run("m = load \"half.safetensors\"")
        XCTAssertTrue(result.error?.contains("half.safetensors") ?? false, "\(result)")
        try Data("not a picture".utf8).write(to: folder.appendingPathComponent("fake.png"))
        result = run("i = load \"fake.png\"")
        XCTAssertTrue(result.error?.hasPrefix("load: image 'fake.png': it is neither a PNG nor a JPEG image") ?? false, "\(result)")
        result = run("i = load \"fake.png\" weights=\"fake.png\"")
        XCTAssertEqual(result.error, "load: weights= only applies to models, but \"fake.png\" is an image")
    }

    func testDefaultModelFolderFollowsTheEnvironment() throws {
        XCTAssertEqual(ModelStore.modelsFolder(environment: ["CAMSCRIPT_MODELS": "/m", "HOME": "/h"]), "/m")
        XCTAssertEqual(ModelStore.modelsFolder(environment: ["XDG_DATA_HOME": "/d", "HOME": "/h"]), "/d/camscript/models")
        XCTAssertEqual(ModelStore.modelsFolder(environment: ["HOME": "/h"]), "/h/.local/share/camscript/models")
        XCTAssertEqual(ModelStore.architecture(named: "ResNet-50"), "resnet50")
        XCTAssertEqual(ModelStore.architecture(named: "EfficientNet-Lite0"), "efficientnet_lite0")
        XCTAssertNil(ModelStore.architecture(named: "resnet51"))
        XCTAssertThrowsError(try ModelStore.defaultCheckpointPath(for: "efficientnet_lite0", environment: ["CAMSCRIPT_MODELS": folder.path])) {
            XCTAssertEqual(($0 as? MissingModelError)?.path, folder.path + "/efficientnet-lite0-57934424.pth")
        }
        XCTAssertThrowsError(try ModelStore.defaultCheckpointPath(for: "resnet50", environment: [:])) {
            XCTAssertTrue($0 is RuntimeError)
        }
        // A checkpoint placed in CAMSCRIPT_MODELS under the default file name is the default model.
        let models = folder.appendingPathComponent("models")
        try FileManager.default.createDirectory(at: models, withIntermediateDirectories: true)
        let network = try ModelStore.randomNetwork(architecture: "efficientnet_lite0")
        try SafeTensors.write(ModelStore.stateDict(of: network), to: models.appendingPathComponent("efficientnet-lite0-57934424.pth"))
        let result = run("m = load \"efficientnet_lite0\"\nprint m.architecture m.default_layer", environment: ["CAMSCRIPT_MODELS": models.path])
        XCTAssertNil(result.error)
        XCTAssertEqual(result.lines, ["efficientnet_lite0 _blocks.15"])
    }

    func testSeedExampleRunsWithWeightsFromTheEnvironment() throws {
        try writeCheckpoint("resnet50", named: "r50.safetensors")
        let examples = ScriptRuntimeTests.repository.appendingPathComponent("examples")
        let source = try String(contentsOf: examples.appendingPathComponent("seed.cam"), encoding: .utf8)
            .replacingOccurrences(of: "\"out/cam_compare.png\"", with: "\"\(folder.path)/cam_compare.png\"")
        let result = run(source, environment: ["RESNET50_WEIGHTS": folder.appendingPathComponent("r50.safetensors").path], base: examples)
        XCTAssertNil(result.error)
        XCTAssertEqual(Array(result.lines.prefix(2)), ["[451, 300]", "[3, 224, 224]"])
        let saved = try RGBImage(contentsOf: folder.appendingPathComponent("cam_compare.png"))
        XCTAssertEqual([saved.width, saved.height], [672, 224])
    }

    /// examples/quickstart.cam for real, with the installed default model.
    func testQuickstartExampleRunsWithTheDefaultModel() throws {
        let environment = ProcessInfo.processInfo.environment
        let models = ModelStore.modelsFolder(environment: environment)
        guard FileManager.default.fileExists(atPath: models + "/efficientnet-lite0-57934424.pth") else {
            throw XCTSkip("the default model is not installed in \(models); run `make setup`")
        }
        let examples = ScriptRuntimeTests.repository.appendingPathComponent("examples")
        let source = try String(contentsOf: examples.appendingPathComponent("quickstart.cam"), encoding: .utf8)
            .replacingOccurrences(of: "\"out/", with: "\"\(folder.path)/")
        let result = run(source, environment: environment, base: examples)
        XCTAssertNil(result.error)
        XCTAssertEqual(result.lines.first, "[451, 300]")
        XCTAssertTrue(result.lines.contains("tiger cat tabby"), "\(result.lines)")
        let picture = try RGBImage(contentsOf: folder.appendingPathComponent("quickstart.png"))
        XCTAssertGreaterThan(picture.height, 224)
        XCTAssertGreaterThan(picture.width, 3 * 224)
        XCTAssertTrue(FileManager.default.fileExists(atPath: folder.appendingPathComponent("quickstart_tabby.npy").path))
    }

    /// The quickstart pipeline on the real default model, through the script layer, against
    /// pytorch-grad-cam 1.5.7 (fixture by tools/fixtures/gen_wiring.py): the crop the model
    /// sees, Grad-CAM for the top class and for "tabby", and `overlay cam x` against
    /// show_cam_on_image(np.float32(crop) / 255, cam, use_rgb=True).
    func testQuickstartPipelineMatchesPytorchGradCAM() throws {
        let environment = ProcessInfo.processInfo.environment
        let models = ModelStore.modelsFolder(environment: environment)
        guard FileManager.default.fileExists(atPath: models + "/efficientnet-lite0-57934424.pth") else {
            throw XCTSkip("the default model is not installed in \(models); run `make setup`")
        }
        let fixture = try SafeTensors.read(contentsOf: ScriptRuntimeTests.repository
            .appendingPathComponent("Tests/CAMRuntimeTests/Fixtures/wiring/chelsea_lite0.safetensors"))
        let script = """
        model = load "efficientnet_lite0"
        img = load "images/chelsea.png"
        x = preprocess img model
        top = gradcam model x
        tabby = gradcam model x target="tabby"
        crop = to_image(x, mean=[0.5, 0.5, 0.5], std=[0.5, 0.5, 0.5])
        vis = overlay tabby x
        """
        let sink = CollectingSink()
        let session = Session(output: sink, baseDirectory: ScriptRuntimeTests.repository.appendingPathComponent("examples").path,
                              environment: environment)
        XCTAssertNil(session.run(source: script, fileName: "pipeline.cam").diagnostic)
        // Two gradcam calls, one note: it is said once a session.
        XCTAssertEqual(sink.lines, ["gradcam: using the default layer \"_blocks.15\" (choose another with layer=)"])
        guard case .object(let crop as ImageObject)? = session.value(named: "crop"),
              case .object(let vis as ImageObject)? = session.value(named: "vis"),
              case .object(let top as CAMObject)? = session.value(named: "top"),
              case .object(let tabby as CAMObject)? = session.value(named: "tabby"),
              let expectedCrop = fixture["crop"], let expectedOverlay = fixture["overlay"],
              let camTop = fixture["cam_top"], let camTabby = fixture["cam_tabby"] else {
            return XCTFail("missing values or fixtures")
        }
        XCTAssertEqual(crop.image.pixels.map(Float.init), expectedCrop.storage, "the crop differs from PIL's")
        XCTAssertEqual(top.result.targetClasses, [282])
        XCTAssertEqual(tabby.result.targetClasses, [281])
        XCTAssertLessThanOrEqual(top.result.map.slice(0).maxAbsDifference(camTop), 1e-4)
        XCTAssertLessThanOrEqual(tabby.result.map.slice(0).maxAbsDifference(camTabby), 1e-4)
        // The overlay of our map equals show_cam_on_image of our map on the exact crop; against
        // the reference map, pixels differ only where uint8(255 · cam) falls on the other side
        // of an integer.
        let ours = vis.image.pixels.map(Float.init)
        let differing = zip(ours, expectedOverlay.storage).filter { $0 != $1 }.count
        XCTAssertLessThanOrEqual(Double(differing) / Double(ours.count), 0.001, "\(differing) of \(ours.count) samples differ")
        let sameMap = try CAMRuntime.overlay(crop.image, mask: camTabby)
        XCTAssertEqual(sameMap.pixels.map(Float.init), expectedOverlay.storage, "show_cam_on_image on the reference map differs")
    }

    /// `show` draws images and CAMs through DisplayImage; the standard registry encodes PNG for iTerm2.
    func testShowDrawsImagesAndCAMsAndThePNGEncoderIsRegistered() throws {
        let sink = CollectingSink()
        let session = Session(output: sink, baseDirectory: folder.path, environment: ["HOME": folder.path])
        let script = """
        img = resize(colorbar("jet", length=100), 96, 64)
        show img
        model = random_model "resnet18"
        c = gradcam model preprocess(img, model, resize=64, crop=64) layer="layer4"
        show c
        """
        XCTAssertNil(session.run(source: script, fileName: "show.cam").diagnostic)
        let pictures = sink.items.compactMap { item -> (DisplayImage, String)? in
            if case .image(let picture, let description) = item.kind { return (picture, description) }
            return nil
        }
        XCTAssertEqual(pictures.map { [$0.0.width, $0.0.height] }, [[96, 64], [64, 64]])
        XCTAssertEqual(pictures.first?.1, "image 96×64 RGB")
        XCTAssertTrue(pictures.last?.1.hasPrefix("GradCAM 64×64 at layer4") ?? false)
        guard let encoder = BuiltinRegistry.standard.pngEncoder, let picture = pictures.first?.0 else {
            return XCTFail("no PNG encoder registered")
        }
        let png = encoder(picture) ?? []
        XCTAssertEqual(Array(png.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        let decoded = try RGBImage(data: Data(png))
        XCTAssertEqual(decoded.pixels, picture.rgb)
    }

    /// `label` keeps its caption bands with the picture, so `grid` and `hstack` line the
    /// pictures up whatever the heights of their captions, above or below (issue 16, item 7).
    func testGridAndHstackLineUpLabelledPictures() throws {
        let session = Session(output: CollectingSink(), baseDirectory: folder.path, environment: ["HOME": folder.path])
        let script = """
        img = resize(colorbar("jet", length=100), 96, 64)
        g = grid([label(img, "tiger"), label(img, "tiger cat in the long grass", above=true), label(label(img, "a"), "b\\nc", above=true)], cols=3)
        h = hstack(label(img, "one"), label(img, "one\\ntwo\\nthree"), gap=4)
        """
        XCTAssertNil(session.run(source: script, fileName: "tiles.cam").diagnostic)
        guard case .object(let picture as ImageObject)? = session.value(named: "img"),
              case .object(let g as ImageObject)? = session.value(named: "g"),
              case .object(let h as ImageObject)? = session.value(named: "h") else {
            return XCTFail("img, g and h should be images")
        }
        let img = picture.image
        /// The row where `img` appears whole at column `x` of `canvas`.
        func top(in canvas: RGBImage, x: Int) -> Int? {
            (0...(canvas.height - img.height)).first { canvas.cropped(x: x, y: $0, width: img.width, height: img.height) == img }
        }
        let tops = [0, 100, 200].map { top(in: g.image, x: $0) }
        XCTAssertNotNil(tops[0])
        XCTAssertEqual(Set(tops).count, 1, "picture tops in the grid: \(tops)")
        XCTAssertEqual(top(in: h.image, x: 0), 0)
        XCTAssertEqual(top(in: h.image, x: 100), 0)
    }

    /// Ctrl-C (the session's cancellation flag) stops a long ScoreCAM between batches.
    func testCancellationStopsScoreCAM() throws {
        let sink = CollectingSink()
        let session = Session(output: sink, baseDirectory: folder.path, environment: ["HOME": folder.path])
        XCTAssertNil(session.run(source: "model = random_model \"resnet18\"\nx = preprocess(resize(colorbar(), 224, 224), model)",
                                 fileName: "setup.cam").diagnostic)
        let flag = session.cancellation
        DispatchQueue.global().asyncAfter(deadline: .now() + 1) { flag.cancel() }
        let start = Date()
        // 512 masked inputs of 224×224: minutes in a debug build if nothing stopped it.
        let outcome = session.run(source: "c = scorecam model x layer=\"layer4\" batch_size=4", fileName: "long.cam")
        XCTAssertEqual(outcome.diagnostic?.message, "interrupted")
        XCTAssertLessThan(Date().timeIntervalSince(start), 20)
        XCTAssertNil(session.value(named: "c"))
        flag.reset()
    }
}
