import CAMRuntime
import Foundation
import XCTest

/// Runs every example script under `examples/` through the real `camscript run` binary, in a
/// copy of the examples folder, and checks the exit code, the pictures each one writes and
/// the numbers its teaching depends on.
///
/// The examples use the installed default model (EfficientNet-Lite0); without it they are
/// skipped with the reason. `seed.cam` needs a ResNet-50 checkpoint, which the test writes
/// with random weights. `methods.cam` runs its Score-CAM at `_blocks.0` (16 channels) through
/// `SCORECAM_LAYER` instead of 320 forward passes at `_blocks.15`.
final class ExamplesTests: XCTestCase {
    /// The repository's `examples/` folder.
    static let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("examples")

    /// What one example must produce.
    struct Expectation {
        /// Files under the copied `examples/` folder the run must write, with the smallest
        /// width and height a picture may have (0 for non-pictures).
        var files: [(path: String, minWidth: Int, minHeight: Int)]
        /// Whether the example needs the installed default model.
        var needsDefaultModel = true
        /// Lines (or parts of lines) the output must contain.
        var output: [String] = []
    }

    /// Every example and what it writes; a new example must be added here.
    static let expectations: [String: Expectation] = [
        "quickstart.cam": Expectation(files: [("out/quickstart.png", 3 * 224, 224), ("out/quickstart_tabby.npy", 0, 0)],
                                      output: ["tiger cat tabby"]),
        "seed.cam": Expectation(files: [("out/cam_compare.png", 672, 224)], needsDefaultModel: false,
                                output: ["[451, 300]", "[3, 224, 224]"]),
        "methods.cam": Expectation(files: [("out/methods.png", 5 * 224, 4 * 224)],
                                   output: ["explaining class 282 tiger cat", "wrote out/methods.png with 20 tiles", "(vs "]),
        "layers.cam": Expectation(files: [("out/layers.png", 3 * 224, 2 * 224)], output: ["16 blocks: _blocks.0 … _blocks.15"]),
        "targets.cam": Expectation(files: [("out/targets.png", 3 * 224, 2 * 224), ("out/targets_scale.png", 4 * 224, 224)],
                                   output: ["→ 1 \"goldfish\"", "→ 281 \"tabby\" (softmax)", "raw (colours 0.0…",
                                            "(softmax), min -1.0 max", "signed (colours -1.0…1.0)"]),
        "smoothing.cam": Expectation(files: [("out/smoothing.png", 5 * 224, 224)], output: ["wrote out/smoothing.png"]),
        "workshop/01_outputs.cam": Expectation(files: [],
                                               output: ["softmax 0.3928 predict 0.3928", "coffee.png → predictions: espresso"]),
        "workshop/02_activations.cam": Expectation(files: [("out/workshop_02_activations.png", 4 * 224, 2 * 224)],
                                                   output: ["activations [1, 320, 7, 7]", "largest difference between the two Eigen-CAMs: 0"]),
        "workshop/03_gradcam.cam": Expectation(files: [("out/workshop_03_gradcam.png", 5 * 224, 224),
                                                       ("out/workshop_03_tabby.npy", 0, 0)],
                                               output: ["method GradCAM layers [\"_blocks.15\"] class 281 tabby", "weights [320] positive"]),
        "workshop/04_methods.cam": Expectation(files: [("out/workshop_04_methods.png", 7 * 224, 2 * 224)]),
        "workshop/05_sanity.cam": Expectation(files: [("out/workshop_05_sanity.png", 4 * 224, 2 * 224)],
                                              output: ["tabby probability, full picture: 0.17"]),
    ]

    private var folder = FileManager.default.temporaryDirectory

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("camscript-examples-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        // Only the folder setUp made (never the temporary directory itself).
        if folder.lastPathComponent.hasPrefix("camscript-examples-") {
            try? FileManager.default.removeItem(at: folder)
        }
    }

    /// The `.cam` files under `examples/`, as paths relative to it.
    static func exampleScripts() -> [String] {
        let base = examples.standardizedFileURL.path + "/"
        guard let walker = FileManager.default.enumerator(atPath: base) else {
            XCTFail("cannot list \(base)")
            return []
        }
        return walker.compactMap { $0 as? String }.filter { $0.hasSuffix(".cam") && !$0.hasPrefix("out/") }.sorted()
    }

    func testEveryExampleHasAnExpectation() throws {
        let scripts = Self.exampleScripts()
        XCTAssertEqual(Set(scripts), Set(Self.expectations.keys),
                       "every examples/**/*.cam must be listed in ExamplesTests.expectations (and only those)")
        let workshop = scripts.filter { $0.hasPrefix("workshop/") }
        XCTAssertTrue((4...6).contains(workshop.count), "the workshop has \(workshop.count) files")
    }

    func testQuickstart() throws { try runExample("quickstart.cam") }
    func testSeed() throws { try runExample("seed.cam") }
    func testMethods() throws { try runExample("methods.cam") }
    func testLayers() throws { try runExample("layers.cam") }
    func testTargets() throws { try runExample("targets.cam") }
    func testSmoothing() throws { try runExample("smoothing.cam") }
    func testWorkshop1Outputs() throws { try runExample("workshop/01_outputs.cam") }
    func testWorkshop2Activations() throws { try runExample("workshop/02_activations.cam") }
    func testWorkshop3GradCAM() throws { try runExample("workshop/03_gradcam.cam") }
    func testWorkshop5Sanity() throws { try runExample("workshop/05_sanity.cam") }

    /// Workshop 4's claim, checked on its own printed numbers: Grad-CAM, HiResCAM and
    /// XGrad-CAM coincide at ResNet's `layer4[-1]` and differ at `layer3`.
    func testWorkshop4Methods() throws {
        let output = try runExample("workshop/04_methods.cam")
        let differences = { (layer: String) -> [Double] in
            guard let line = output.split(separator: "\n").first(where: { $0.hasPrefix(layer + " :") }) else { return [] }
            return line.split(separator: " ").compactMap { Double($0) }
        }
        let last = differences("layer4[-1]"), earlier = differences("layer3")
        XCTAssertEqual(last.count, 2, output)
        XCTAssertEqual(earlier.count, 2, output)
        for d in last { XCTAssertLessThan(d, 1e-5, "at layer4[-1] the three methods must coincide") }
        for d in earlier { XCTAssertGreaterThan(d, 0.05, "at layer3 the three methods must differ") }
    }

    /// Copies the examples (scripts and photos) into the temporary folder, runs `script`
    /// there, checks its exit code, output and files; returns its standard output.
    @discardableResult
    private func runExample(_ script: String) throws -> String {
        let expectation = try XCTUnwrap(Self.expectations[script], "no expectation for \(script)")
        var environment = ["SCORECAM_LAYER": "_blocks.0"]
        if expectation.needsDefaultModel {
            let models = ModelStore.modelsFolder(environment: ProcessInfo.processInfo.environment)
            guard FileManager.default.fileExists(atPath: models + "/efficientnet-lite0-57934424.pth") else {
                throw XCTSkip("the default model is not installed in \(models); run `make setup`")
            }
        }
        let copy = folder.appendingPathComponent("examples")
        try copyExamples(to: copy)
        if script == "seed.cam" {
            let weights = folder.appendingPathComponent("r50.safetensors")
            let network = try ModelStore.randomNetwork(architecture: "resnet50")
            try SafeTensors.write(ModelStore.stateDict(of: network), to: weights)
            environment["RESNET50_WEIGHTS"] = weights.path
        }
        let started = Date()
        let result = try CLI.run(["run", copy.appendingPathComponent(script).path], environment: environment)
        let seconds = Date().timeIntervalSince(started)
        print("ExamplesTests: \(script) ran in \(String(format: "%.1f", seconds)) s")
        XCTAssertEqual(result.status, 0, "\(script) failed:\n\(result.stderr)")
        XCTAssertFalse(result.stderr.contains("error:"), result.stderr)
        for text in expectation.output {
            XCTAssertTrue(result.stdout.contains(text), "\(script): the output lacks \"\(text)\":\n\(result.stdout)")
        }
        for file in expectation.files {
            let url = copy.appendingPathComponent(file.path)
            XCTAssertTrue(FileManager.default.fileExists(atPath: url.path), "\(script) did not write \(file.path)")
            guard file.path.hasSuffix(".png"), FileManager.default.fileExists(atPath: url.path) else { continue }
            let picture = try RGBImage(contentsOf: url)
            XCTAssertGreaterThanOrEqual(picture.width, file.minWidth, "\(file.path) is too narrow")
            XCTAssertGreaterThanOrEqual(picture.height, file.minHeight, "\(file.path) is too short")
            if script != "seed.cam" && script != "quickstart.cam" {
                assertHeatMapDrawn(picture, file.path)
            }
        }
        return result.stdout
    }

    /// Checks that a picture holds both the hot (red) and cold (blue) ends of the JET
    /// colormap over a noticeable area: a composition of real heat maps, not blank tiles.
    private func assertHeatMapDrawn(_ picture: RGBImage, _ name: String) {
        var hot = 0, cold = 0
        let p = picture.pixels
        for i in stride(from: 0, to: p.count, by: 3) {
            let (r, g, b) = (Int(p[i]), Int(p[i + 1]), Int(p[i + 2]))
            if r > 170 && b < 90 && g < 120 { hot += 1 }
            if b > 140 && r < 110 && b > g + 30 { cold += 1 }
        }
        let total = picture.width * picture.height
        XCTAssertGreaterThan(hot, total / 200, "\(name): hardly any red; were the heat maps drawn?")
        XCTAssertGreaterThan(cold, total / 200, "\(name): hardly any blue; were the heat maps drawn?")
    }

    /// Copies every `.cam` file (keeping sub-folders) and the photos into `destination`, and
    /// creates the `out/` folder the scripts write into.
    private func copyExamples(to destination: URL) throws {
        let files = FileManager.default
        try files.createDirectory(at: destination.appendingPathComponent("out"), withIntermediateDirectories: true)
        try files.copyItem(at: Self.examples.appendingPathComponent("images"), to: destination.appendingPathComponent("images"))
        for script in Self.exampleScripts() {
            let target = destination.appendingPathComponent(script)
            try files.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
            try files.copyItem(at: Self.examples.appendingPathComponent(script), to: target)
        }
    }
}
