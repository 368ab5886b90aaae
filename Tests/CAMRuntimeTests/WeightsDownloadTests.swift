import Foundation
import XCTest
@testable import CAMRuntime

/// Fetching published weights, against a server this test starts on 127.0.0.1: a good file,
/// a wrong hash, a 404, a cut connection resumed with `Range`, a redirect, two fetches at once,
/// and no server at all. No test reaches the internet.
final class WeightsDownloadTests: XCTestCase {
    var folder = FileManager.default.temporaryDirectory

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("camscript-weights-\(UUID().uuidString)")
    }

    override func tearDownWithError() throws {
        if folder.lastPathComponent.hasPrefix("camscript-weights-") { try? FileManager.default.removeItem(at: folder) }
    }

    /// A real checkpoint (random ResNet-18, safetensors bytes) and its torch.hub-style name.
    private func checkpoint() throws -> (data: Data, name: String, prefix: String) {
        let network = try ModelStore.randomNetwork(architecture: "resnet18")
        let data = SafeTensors.encode(ModelStore.stateDict(of: network))
        let prefix = String(SHA256.hexDigest(of: data).prefix(8))
        return (data, "resnet18-\(prefix).pth", prefix)
    }

    func testTorchHubNamesCarryTheHashPrefix() {
        XCTAssertEqual(PublishedWeights.table["resnet50"]?.hashPrefix, "11ad3fa6")
        XCTAssertEqual(PublishedWeights.table["resnet18"]?.fileName, "resnet18-f37072fd.pth")
        XCTAssertEqual(Set(PublishedWeights.table.keys), ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152"])
        XCTAssertNil(PublishedWeights.hashPrefix(of: "weights.pth"))
        XCTAssertNil(PublishedWeights.hashPrefix(of: "my-model.pth"))
    }

    func testAGoodFileIsFetchedOnceCheckedAndLoads() throws {
        let (data, name, prefix) = try checkpoint()
        let server = try LocalHTTPServer(routes: [name: .file(data)])
        defer { server.stop() }
        let progress = ProgressLog()
        let path = try WeightsDownloader(baseURL: server.baseURL)
            .fetch(name, hashPrefix: prefix, into: folder.path, progress: { progress.add($0, $1) })
        XCTAssertEqual(path, folder.appendingPathComponent(name).path)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), data)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path + ".partial"))
        XCTAssertEqual(progress.last?.0, Int64(data.count))
        XCTAssertEqual(progress.last?.1, Int64(data.count))
        XCTAssertEqual(try ModelStore.load(contentsOf: path).architecture, "resnet18")
        // A second fetch finds the file and asks the server nothing.
        _ = try WeightsDownloader(baseURL: server.baseURL).fetch(name, hashPrefix: prefix, into: folder.path)
        XCTAssertEqual(server.requests.count, 1)
    }

    func testAWrongHashIsRefusedAndNothingIsKept() throws {
        let (data, _, _) = try checkpoint()
        let server = try LocalHTTPServer(routes: ["resnet18-f37072fd.pth": .file(data)])
        defer { server.stop() }
        XCTAssertThrowsError(try WeightsDownloader(baseURL: server.baseURL)
            .fetch("resnet18-f37072fd.pth", hashPrefix: "f37072fd", into: folder.path)) { error in
            let message = (error as? WeightsDownloadError)?.message ?? "\(error)"
            XCTAssertTrue(message.contains("not f37072fd as its name says"), message)
            XCTAssertTrue(message.contains("it was deleted"), message)
        }
        let left = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { !$0.hasSuffix(".lock") }
        XCTAssertEqual(left, [])
    }

    func testA404NamesTheURLTheFolderAndTheWaysForward() throws {
        let server = try LocalHTTPServer(routes: [:])
        defer { server.stop() }
        XCTAssertThrowsError(try WeightsDownloader(baseURL: server.baseURL)
            .fetch("resnet50-11ad3fa6.pth", hashPrefix: "11ad3fa6", into: folder.path)) { error in
            XCTAssertEqual((error as? WeightsDownloadError)?.message,
                           "cannot fetch \(server.baseURL)resnet50-11ad3fa6.pth: the server has no such file (HTTP 404). "
                           + "Without the network: put resnet50-11ad3fa6.pth (downloaded elsewhere) in \(self.folder.path), "
                           + "or give a checkpoint with weights=\"file.pth\", or use random_model for random weights")
        }
    }

    func testACutConnectionKeepsThePartAndTheNextFetchResumesIt() throws {
        let (data, name, prefix) = try checkpoint()
        let server = try LocalHTTPServer(routes: [name: .cut(data, after: data.count / 3)])
        defer { server.stop() }
        let downloader = WeightsDownloader(baseURL: server.baseURL)
        XCTAssertThrowsError(try downloader.fetch(name, hashPrefix: prefix, into: folder.path)) { error in
            let message = (error as? WeightsDownloadError)?.message ?? "\(error)"
            XCTAssertTrue(message.contains("run it again to resume") || message.contains("cannot fetch"), message)
        }
        let partial = folder.appendingPathComponent(name + ".partial").path
        let kept = (try? FileManager.default.attributesOfItem(atPath: partial)[.size] as? Int) ?? 0
        XCTAssertEqual(kept, data.count / 3)
        server.set(name, .file(data))
        let path = try downloader.fetch(name, hashPrefix: prefix, into: folder.path)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), data)
        XCTAssertEqual(server.requests.last?.range, "bytes=\(data.count / 3)-")
    }

    func testAWholePartialFileIsCheckedAndKeptWithoutARequest() throws {
        let (data, name, prefix) = try checkpoint()
        let server = try LocalHTTPServer(routes: [name: .file(data)])
        defer { server.stop() }
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try data.write(to: folder.appendingPathComponent(name + ".partial"))
        let path = try WeightsDownloader(baseURL: server.baseURL).fetch(name, hashPrefix: prefix, into: folder.path)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), data)
        XCTAssertEqual(server.requests.count, 0)
    }

    func testAPartialFileLongerThanTheServersStartsOver() throws {
        let (data, name, prefix) = try checkpoint()
        let server = try LocalHTTPServer(routes: [name: .file(data)])
        defer { server.stop() }
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try (data + Data(repeating: 7, count: 100)).write(to: folder.appendingPathComponent(name + ".partial"))
        let path = try WeightsDownloader(baseURL: server.baseURL).fetch(name, hashPrefix: prefix, into: folder.path)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), data)
        XCTAssertEqual(server.requests.map(\.range), ["bytes=\(data.count + 100)-", nil])
    }

    func testARedirectIsFollowed() throws {
        let (data, name, prefix) = try checkpoint()
        let server = try LocalHTTPServer(routes: [name: .redirect("mirror/" + name), "mirror/" + name: .file(data)])
        defer { server.stop() }
        let path = try WeightsDownloader(baseURL: server.baseURL).fetch(name, hashPrefix: prefix, into: folder.path)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), data)
        XCTAssertEqual(server.requests.map(\.path), [name, "mirror/" + name])
    }

    func testTwoFetchesAtOnceEndWithOneGoodFile() throws {
        let (data, name, prefix) = try checkpoint()
        let server = try LocalHTTPServer(routes: [name: .file(data)])
        defer { server.stop() }
        let results = ProgressLog()
        DispatchQueue.concurrentPerform(iterations: 2) { _ in
            let ok = (try? WeightsDownloader(baseURL: server.baseURL).fetch(name, hashPrefix: prefix, into: folder.path)) != nil
            results.add(ok ? 1 : 0, nil)
        }
        XCTAssertEqual(results.entries.map(\.0), [1, 1])
        XCTAssertEqual(server.requests.count, 1, "the second fetch waited for the first and used its file")
        XCTAssertEqual(try Data(contentsOf: folder.appendingPathComponent(name)), data)
    }

    func testNoServerAtAllIsAClearError() throws {
        let server = try LocalHTTPServer(routes: [:])
        let base = server.baseURL
        server.stop()  // nothing listens on that port any more: connection refused
        XCTAssertThrowsError(try WeightsDownloader(baseURL: base).fetch("resnet18-f37072fd.pth", hashPrefix: "f37072fd",
                                                                        into: folder.path)) { error in
            let message = (error as? WeightsDownloadError)?.message ?? "\(error)"
            XCTAssertTrue(message.hasPrefix("cannot fetch \(base)resnet18-f37072fd.pth: "), message)
            XCTAssertTrue(message.hasSuffix("or use random_model for random weights"), message)
        }
    }
}

/// Thread-safe record of (value, total) pairs.
final class ProgressLog: @unchecked Sendable {
    private let lock = NSLock()
    private var list: [(Int64, Int64?)] = []
    func add(_ value: Int64, _ total: Int64?) { lock.withLock { list.append((value, total)) } }
    var entries: [(Int64, Int64?)] { lock.withLock { list } }
    var last: (Int64, Int64?)? { entries.last }
}
