import CAMRuntime
import Foundation
import Interpreter
import XCTest

/// Models whose head is not ImageNet's: checkpoints with 5 classes or one logit, class names
/// from `labels=` files, targets by those names, and every way a labels file can be wrong.
final class FineTunedHeadTests: ScriptFolderTestCase {
    /// Writes a random-weight checkpoint whose head has `classes` logits.
    func writeCheckpoint(_ architecture: String, classes: Int, named name: String) throws {
        let network = try ModelStore.randomNetwork(architecture: architecture, classes: classes)
        try SafeTensors.write(ModelStore.stateDict(of: network), to: folder.appendingPathComponent(name))
    }

    func write(_ text: String, to name: String) throws {
        try Data(text.utf8).write(to: folder.appendingPathComponent(name))
    }

    func testAFiveClassCheckpointLoadsWithItsHeadAndLabels() throws {
        try writeCheckpoint("resnet18", classes: 5, named: "flowers.safetensors")
        try write("daisy\ndandelion\nrose\nsunflower\ntulip\n", to: "flowers.txt")
        let photo = ScriptFolderTestCase.photos.appendingPathComponent("chelsea.png").path
        let (lines, error) = run("""
        model = load "flowers.safetensors" labels="flowers.txt"
        print model.classes
        x = preprocess "\(photo)" model
        p = predict model x top=5
        print len(p.labels) sorted(p.labels)
        c = gradcam model x target="rose" layer="layer4"
        print c.target c.label
        again = gradcam model x target=2 layer="layer4"
        print again.map == c.map
        """)
        XCTAssertNil(error)
        XCTAssertEqual(lines.first, #"["daisy", "dandelion", "rose", "sunflower", "tulip"]"#)
        XCTAssertEqual(lines.dropFirst().first, #"5 ["daisy", "dandelion", "rose", "sunflower", "tulip"]"#)
        XCTAssertEqual(Array(lines.suffix(2)), [#"2 rose"#, "true"])
    }

    func testWithoutLabelsClassesAreNumberedAndTheArchitectureNameLoaderReadsTheHeadToo() throws {
        try writeCheckpoint("efficientnet_lite0", classes: 3, named: "lite3.safetensors")
        let (lines, error) = run("""
        model = load "efficientnet_lite0" weights="lite3.safetensors"
        print model.classes
        """)
        XCTAssertNil(error)
        XCTAssertEqual(lines, [#"["class 0", "class 1", "class 2"]"#])
    }

    func testJSONLabelsInEveryForm() throws {
        try writeCheckpoint("resnet18", classes: 3, named: "m.safetensors")
        try write(#"["cat", "dog", "bird"]"#, to: "list.json")
        try write(#"{"2": "bird", "0": "cat", "1": "dog"}"#, to: "object.json")
        try write(#"{"0": ["n1", "cat"], "1": ["n2", "dog"], "2": ["n3", "bird"]}"#, to: "index.json")
        for file in ["list.json", "object.json", "index.json"] {
            let (lines, error) = run("m = load \"m.safetensors\" labels=\"\(file)\"\nprint m.classes")
            XCTAssertNil(error, file)
            XCTAssertEqual(lines, [#"["cat", "dog", "bird"]"#], file)
        }
    }

    func testABinaryHeadIsExplainedAsPytorchGradCAMsBinaryTarget() throws {
        try writeCheckpoint("resnet18", classes: 1, named: "binary.safetensors")
        try write("benign\nmalignant\n", to: "binary.txt")
        let photo = ScriptFolderTestCase.photos.appendingPathComponent("chelsea.png").path
        let (lines, error) = run("""
        model = load "binary.safetensors" labels="binary.txt"
        print model
        x = preprocess "\(photo)" model
        l = logits model x
        predicted = 0
        if l[0][0] > 0:
            predicted = 1
        p = predict model x
        print len(p.labels) round(p[0].prob + p[1].prob, 6)
        print p.top.class == predicted
        one = gradcam model x target="malignant" layer="layer4"
        zero = gradcam model x target=0 layer="layer4"
        print one.target zero.target
        top = gradcam model x layer="layer4"
        print top.target == predicted
        """)
        XCTAssertNil(error)
        XCTAssertTrue(lines.first?.contains("binary classifier") ?? false, "\(lines)")
        XCTAssertEqual(Array(lines.dropFirst()), ["2 1", "true", "1 0", "true"])
        let (_, softmax) = run("""
        model = load "binary.safetensors"
        x = preprocess "\(photo)" model
        gradcam model x softmax=true
        """)
        XCTAssertEqual(softmax, #"gradcam: softmax=true needs several classes; this model has one logit (a binary classifier), explained as pytorch-grad-cam's BinaryClassifierOutputTarget: leave out softmax="#)
        let (_, range) = run("""
        model = load "binary.safetensors"
        x = preprocess "\(photo)" model
        gradcam model x target=2
        """)
        XCTAssertEqual(range, "gradcam: target class 2 is out of range: the model is a binary classifier (one logit) with classes 0 and 1")
    }

    func testWrongLabelsFilesAreRefusedWithTheReason() throws {
        try writeCheckpoint("resnet18", classes: 3, named: "m.safetensors")
        let cases: [(String, String, String)] = [
            ("short.txt", "a\nb\n", "load: labels file short.txt has 2 names, but the model's head has 3 classes"),
            ("gap.txt", "a\n\nb\nc\n", "load: labels file gap.txt: line 2 is empty; every line names one class, in class order"),
            ("empty.txt", "\n\n", "load: labels file empty.txt has no names (one name per line expected)"),
            ("bad.json", "[\"a\", 3, \"c\"]", "load: labels file bad.json: entry 1 is not a class name (a non-empty string, or a list ending in one)"),
            ("keys.json", #"{"0": "a", "1": "b", "7": "c"}"#, #"load: labels file keys.json: key "7" is not a class index 0…2"#),
        ]
        for (file, text, message) in cases {
            try write(text, to: file)
            let (_, error) = run("load \"m.safetensors\" labels=\"\(file)\"")
            XCTAssertEqual(error, message, file)
        }
        let (_, missing) = run("load \"m.safetensors\" labels=\"nowhere.txt\"")
        XCTAssertEqual(missing?.hasPrefix("load: labels file not found: "), true, missing ?? "")
        let (_, notModel) = run("load \"\(ScriptFolderTestCase.photos.appendingPathComponent("chelsea.png").path)\" labels=\"short.txt\"")
        XCTAssertEqual(notModel?.hasSuffix("is not a model"), true, notModel ?? "")
    }

    func testAHeadThatIsNotOneLinearIsNamed() throws {
        var dict = ModelStore.stateDict(of: try ModelStore.randomNetwork(architecture: "resnet18", classes: 4))
        let weight = try XCTUnwrap(dict["fc.weight"]), bias = try XCTUnwrap(dict["fc.bias"])
        dict.remove("fc.weight")
        dict.remove("fc.bias")
        dict.set("fc.1.weight", weight)
        dict.set("fc.1.bias", bias)
        try SafeTensors.write(dict, to: folder.appendingPathComponent("seq.safetensors"))
        let (_, error) = run("load \"seq.safetensors\"")
        XCTAssertEqual(error, #"load: the checkpoint's classifier is not a single nn.Linear "fc" (it has keys (2): "fc.1.weight", "fc.1.bias"); resnet18 checkpoints are read with "fc.weight" [classes, features] and "fc.bias""#)
    }

    func testRandomModelsTakeAClassCountAndSaveAsCheckpoints() throws {
        let (lines, error) = run("""
        small = random_model "resnet18" classes=5
        save small "small.safetensors"
        again = load "small.safetensors"
        print len(again.classes) again.classes[4]
        """)
        XCTAssertNil(error)
        XCTAssertEqual(lines, ["5 class 4"])
        let back = try ModelStore.load(contentsOf: folder.appendingPathComponent("small.safetensors").path)
        let original = try ModelStore.randomNetwork(architecture: "resnet18", classes: 5)
        let x = Tensor(shape: [1, 3, 64, 64], repeating: 0.25)
        XCTAssertEqual(try back.forward(x).logits, try original.forward(x).logits)
    }
}
