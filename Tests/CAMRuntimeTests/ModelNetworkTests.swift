import XCTest
@testable import CAMRuntime

/// The Network API: architectures, shapes, layer paths, loading and detection errors.
final class ModelNetworkTests: XCTestCase {
    typealias S = LayerTestSupport

    func testResNet50ShapesAndPreset() throws {
        let network = try Network.make(architecture: "resnet50")
        XCTAssertEqual(network.preset, .resnetV2)
        XCTAssertEqual(network.defaultTargetLayer, "layer4")
        let result = try network.forward(S.random([2, 3, 224, 224], seed: 1), recording: ["layer4"])
        XCTAssertEqual(result.logits.shape, [2, 1000])
        XCTAssertEqual(result.activations["layer4"]?.shape, [2, 2048, 7, 7])
        XCTAssertTrue(result.logits.storage.allSatisfy { $0.isFinite })
        XCTAssertGreaterThan(result.logits.max - result.logits.min, 0)
    }

    func testPresetsAndDefaultLayers() throws {
        XCTAssertEqual(try Network.make(architecture: "resnet18").preset, .resnetV1)
        XCTAssertEqual(try Network.make(architecture: "resnet34").preset, .resnetV1)
        XCTAssertEqual(try Network.make(architecture: "resnet101", randomWeights: false).preset, .resnetV2)
        let lite = try Network.make(architecture: "efficientnet_lite0")
        XCTAssertEqual(lite.preset, .efficientNetLite0)
        XCTAssertEqual(lite.defaultTargetLayer, "_blocks.15")
        XCTAssertEqual(lite.classNames.count, 1000)
        XCTAssertThrowsError(try Network.make(architecture: "vgg16")) { error in
            XCTAssertTrue("\(error)".contains("unknown architecture \"vgg16\""), "\(error)")
        }
    }

    func testLayerNamesFollowPyTorch() throws {
        let network = try Network.make(architecture: "resnet18")
        XCTAssertEqual(Array(network.layerNames.prefix(5)), ["conv1", "bn1", "relu", "maxpool", "layer1"])
        XCTAssertTrue(network.layerNames.contains("layer2.0.downsample.0"))
        XCTAssertTrue(network.layerNames.contains("layer4.1.bn2"))
        XCTAssertEqual(Array(network.layerNames.suffix(2)), ["avgpool", "fc"])
        let keys = Set(network.parameterShapes.map(\.key))
        XCTAssertTrue(keys.contains("layer3.0.downsample.1.running_var"))
        XCTAssertEqual(network.parameterShapes.count, 122 - 20)   // torchvision: 122 entries, 20 of them num_batches_tracked
        let lite = try Network.make(architecture: "efficientnet_lite0")
        XCTAssertTrue(lite.layerNames.contains("_blocks.0._depthwise_conv"))
        XCTAssertFalse(lite.layerNames.contains("_blocks.0._expand_conv"))
        XCTAssertTrue(lite.layerNames.contains("_blocks.1._expand_conv"))
        XCTAssertEqual(lite.parameterShapes.count, 296 - 49)   // the checkpoint: 296 entries, 49 BN counters
    }

    func testResolveLayer() throws {
        let network = try Network.make(architecture: "resnet18")
        XCTAssertEqual(try network.resolveLayer("layer4"), "layer4")
        XCTAssertEqual(try network.resolveLayer("layer4[-1]"), "layer4.1")
        XCTAssertEqual(try network.resolveLayer("layer4[0].conv2"), "layer4.0.conv2")
        XCTAssertEqual(try network.resolveLayer("layer3.1.bn2"), "layer3.1.bn2")
        XCTAssertThrowsError(try network.resolveLayer("layer5")) { error in
            XCTAssertEqual("\(error)", "layer \"layer5\" not found; did you mean \"layer4\"?")
        }
        XCTAssertThrowsError(try network.resolveLayer("layer4[2]")) { error in
            XCTAssertTrue("\(error)".contains("out of range"), "\(error)")
        }
        XCTAssertThrowsError(try network.resolveLayer("completely.wrong")) { error in
            XCTAssertTrue("\(error)".contains("top-level layers"), "\(error)")
        }
        let lite = try Network.make(architecture: "efficientnet_lite0")
        XCTAssertEqual(try lite.resolveLayer("_blocks[-1]"), "_blocks.15")
        XCTAssertEqual(try lite.resolveLayer("_blocks.15"), "_blocks.15")
        XCTAssertThrowsError(try lite.resolveLayer("_block.15")) { error in
            XCTAssertTrue("\(error)".contains("did you mean \"_blocks.15\""), "\(error)")
        }
    }

    func testLoadReportsMissingUnexpectedAndMismatchedKeys() throws {
        let network = try Network.make(architecture: "resnet18")
        var dict = StateDict()
        for (key, shape) in network.parameterShapes { dict.set("module." + key, Tensor(shape: shape)) }
        dict.set("module.bn1.num_batches_tracked", Tensor(shape: [1]))
        try network.load(dict)   // prefix stripped, counter ignored
        XCTAssertEqual(network.biasLayers.first?.bias.storage.first, 0)

        dict.remove("module.layer1.0.conv1.weight")
        dict.set("module.fc.weight", Tensor(shape: [10, 512]))
        dict.set("extra.weight", Tensor(shape: [1]))
        XCTAssertThrowsError(try network.load(dict)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("missing keys (1): \"layer1.0.conv1.weight\""), text)
            XCTAssertTrue(text.contains("unexpected keys (1): \"extra.weight\""), text)
            XCTAssertTrue(text.contains("fc.weight: expected [1000, 512], found [10, 512]"), text)
        }
    }

    func testMakeFromStateDictDetectsAndLoads() throws {
        let source = try Network.make(architecture: "resnet34")
        var dict = StateDict()
        for node in source.graph.nodes {
            for (name, value) in node.op.parameters { dict.set(node.name + "." + name, value) }
        }
        let network = try Network.make(from: dict)
        XCTAssertEqual(network.architecture, "resnet34")
        let x = S.random([1, 3, 64, 64], seed: 5)
        XCTAssertEqual(try network.forward(x).logits, try source.forward(x).logits)
    }

    func testDetectArchitecture() throws {
        for name in Network.architectures {
            let network = try Network.make(architecture: name, randomWeights: false)
            var dict = StateDict()
            // Shapes only matter for the stem; small placeholders keep this cheap.
            for (key, shape) in network.parameterShapes {
                dict.set(key, key == "_conv_stem.weight" ? Tensor(shape: shape) : Tensor(shape: [1]))
            }
            XCTAssertEqual(try Network.detectArchitecture(dict), name)
        }
        var unknown = StateDict()
        unknown.set("features.0.weight", Tensor(shape: [1]))
        XCTAssertThrowsError(try Network.detectArchitecture(unknown)) { error in
            XCTAssertTrue("\(error)".contains("fit no known architecture"), "\(error)")
        }
        var odd = StateDict()
        odd.set("conv1.weight", Tensor(shape: [1]))
        for stage in 1...4 { odd.set("layer\(stage).0.conv1.weight", Tensor(shape: [1])) }
        XCTAssertThrowsError(try Network.detectArchitecture(odd)) { error in
            XCTAssertTrue("\(error)".contains("matches no ResNet"), "\(error)")
        }
    }

    func testBiasLayersAreEveryBatchNormInOrder() throws {
        let network = try Network.make(architecture: "efficientnet_lite0")
        let paths = network.biasLayers.map(\.path)
        XCTAssertEqual(paths.first, "_bn0")
        XCTAssertEqual(paths.last, "_bn1")
        XCTAssertEqual(paths.count, 2 + 15 * 3 + 2)
        let bn = BatchNorm2d(channels: 1, eps: 1e-3)
        bn.setParameter("weight", Tensor(shape: [1], storage: [2]))
        bn.setParameter("bias", Tensor(shape: [1], storage: [0.5]))
        bn.setParameter("running_mean", Tensor(shape: [1], storage: [1]))
        bn.setParameter("running_var", Tensor(shape: [1], storage: [3.999]))
        XCTAssertEqual(bn.effectiveBias.storage[0], 0.5 - 1 * 2 / 2, accuracy: 1e-6)
    }

    func testBackwardErrors() throws {
        let network = try Network.make(architecture: "resnet18")
        XCTAssertThrowsError(try network.backward(Tensor(shape: [1, 1000]), gradientsAt: ["layer4"])) { error in
            XCTAssertTrue("\(error)".contains("retainForBackward"), "\(error)")
        }
        XCTAssertThrowsError(try network.forward(Tensor(shape: [1, 1, 32, 32]))) { error in
            XCTAssertTrue("\(error)".contains("[N, 3, H, W]"), "\(error)")
        }
        _ = try network.forward(S.random([1, 3, 64, 64], seed: 3), retainForBackward: true)
        XCTAssertThrowsError(try network.backward(Tensor(shape: [2, 1000]), gradientsAt: ["layer4"])) { error in
            XCTAssertTrue("\(error)".contains("[1, 1000]"), "\(error)")
        }
        XCTAssertThrowsError(try network.forward(after: "layer4.0.conv1", activation: Tensor(shape: [1, 512, 2, 2]))) { error in
            XCTAssertTrue("\(error)".contains("computed before it"), "\(error)")
        }
    }

    func testBackwardStopsAtTheEarliestRequestedModule() throws {
        let network = try Network.make(architecture: "resnet18")
        _ = try network.forward(S.random([1, 3, 64, 64], seed: 6), retainForBackward: true)
        var g = Tensor(shape: [1, 1000])
        g[0, 3] = 1
        func visited() -> [String] { network.executor.visited.map { network.graph.nodes[$0].name } }
        let partial = try network.backward(g, gradientsAt: ["layer4", "layer3.1.bn2"])
        XCTAssertEqual(Set(partial.gradients.keys), ["layer4", "layer3.1.bn2"])
        XCTAssertTrue(visited().contains("layer3.1.conv2") == false && visited().contains("layer4.0.conv1"), "\(visited())")
        XCTAssertFalse(visited().contains("conv1"))
        let full = try network.backward(g, gradientsAt: ["layer4"], inputGradient: true)
        XCTAssertEqual(full.input?.shape, [1, 3, 64, 64])
        XCTAssertTrue(visited().contains("conv1"))
    }

    func testCancellationStopsAForward() throws {
        let network = try Network.make(architecture: "resnet18")
        let flag = CancellationFlag()
        flag.cancel()
        XCTAssertThrowsError(try network.forward(S.random([1, 3, 64, 64], seed: 4), cancellation: flag)) { error in
            XCTAssertTrue(error is CancellationError)
        }
    }
}
