import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
#endif

/// torchvision's published default weights of the built-in ResNets, fetched once into the
/// models folder under the file name torchvision uses (as `torch.hub` caches them).
///
/// The name carries the first hex digits of the file's SHA-256 (`resnet50-11ad3fa6.pth`), and a
/// fetched file is accepted only when its digest starts with them, as `torch.hub`'s
/// `check_hash` does.
public struct PublishedWeights: Sendable, Equatable {
    /// The architecture, e.g. `"resnet50"`.
    public let architecture: String
    /// torchvision's file name, e.g. `"resnet50-11ad3fa6.pth"`.
    public let fileName: String

    /// Where torchvision publishes its weights.
    public static let defaultBaseURL = "https://download.pytorch.org/models/"

    /// torchvision's `DEFAULT` weights (IMAGENET1K_V1 for ResNet-18/34, IMAGENET1K_V2 for
    /// ResNet-50/101/152, whose resize 232 is CAMScript's `resnetV2` preset).
    public static let table: [String: PublishedWeights] = Dictionary(uniqueKeysWithValues: [
        ("resnet18", "resnet18-f37072fd.pth"), ("resnet34", "resnet34-b627a593.pth"),
        ("resnet50", "resnet50-11ad3fa6.pth"), ("resnet101", "resnet101-cd907fc2.pth"),
        ("resnet152", "resnet152-f82ba261.pth"),
    ].map { ($0.0, PublishedWeights(architecture: $0.0, fileName: $0.1)) })

    /// The hex digits between the last `-` and the extension: the SHA-256 prefix to check.
    public var hashPrefix: String { Self.hashPrefix(of: fileName) ?? "" }

    /// The SHA-256 prefix a torch.hub-style file name carries, or `nil` when it has none.
    public static func hashPrefix(of fileName: String) -> String? {
        let stem = (fileName as NSString).deletingPathExtension
        guard let dash = stem.lastIndex(of: "-") else { return nil }
        let prefix = String(stem[stem.index(after: dash)...])
        guard prefix.count >= 6, prefix.allSatisfy({ $0.isHexDigit && !$0.isUppercase }) else { return nil }
        return prefix
    }
}

/// Fetches a weights file over HTTP(S) into a folder: resumable, checked, atomic, one fetch at
/// a time per file across processes.
///
/// The bytes go to `<file>.partial` (a later fetch resumes it with a `Range` request), the whole
/// file's SHA-256 is checked against the prefix in its name, and only then is it renamed to its
/// name; a second process fetching the same file waits on `<file>.lock` and then finds it there.
public struct WeightsDownloader: Sendable {
    /// Where the file names are resolved (ends with `/`).
    public var baseURL: String
    /// Seconds without any data before the fetch gives up.
    public var idleTimeout: TimeInterval = 30

    /// A downloader for `baseURL` (`CAMSCRIPT_WEIGHTS_URL`, else torchvision's).
    public init(baseURL: String = PublishedWeights.defaultBaseURL) {
        self.baseURL = baseURL.hasSuffix("/") ? baseURL : baseURL + "/"
    }

    /// The base URL for an environment: `$CAMSCRIPT_WEIGHTS_URL` when set, else torchvision's.
    public static func baseURL(environment: [String: String]) -> String {
        environment["CAMSCRIPT_WEIGHTS_URL"].flatMap { $0.isEmpty ? nil : $0 } ?? PublishedWeights.defaultBaseURL
    }

    /// Fetches `fileName` into `folder` unless it is already there; returns its path.
    ///
    /// - Parameters:
    ///   - hashPrefix: the hex SHA-256 prefix the file must have.
    ///   - progress: told (bytes so far, total bytes when known) as data arrives.
    ///   - cancellation: polled; a cancelled fetch keeps its partial file for the next one.
    /// - Throws: `WeightsDownloadError` naming the URL and the way forward.
    public func fetch(_ fileName: String, hashPrefix: String, into folder: String,
                      progress: (@Sendable (Int64, Int64?) -> Void)? = nil,
                      cancellation: CancellationFlag? = nil) throws -> String {
        let destination = folder + "/" + fileName
        if FileManager.default.fileExists(atPath: destination) { return destination }
        guard let url = URL(string: baseURL + fileName) else {
            throw WeightsDownloadError(url: baseURL + fileName, folder: folder, reason: "it is not a valid URL")
        }
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } catch {
            throw WeightsDownloadError(url: url.absoluteString, folder: folder,
                                       reason: "the models folder cannot be made: \(error.localizedDescription)")
        }
        let lock = open(destination + ".lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard lock >= 0 else {
            throw WeightsDownloadError(url: url.absoluteString, folder: folder,
                                       reason: "cannot write in the models folder (\(String(cString: strerror(errno))))")
        }
        defer { close(lock) }
        // Another process may be fetching the same file: wait for it, then use its result.
        while flock(lock, LOCK_EX | LOCK_NB) != 0 {
            if let cancellation, cancellation.isCancelled { throw CancellationError() }
            usleep(50_000)
        }
        defer { flock(lock, LOCK_UN) }
        if FileManager.default.fileExists(atPath: destination) { return destination }

        let partial = destination + ".partial"
        // A partial file may already be whole: a fetch stopped between its last byte and the
        // rename. Then no request is needed (and a range request past its end would be refused).
        var digest = FileManager.default.fileExists(atPath: partial) ? try? SHA256.hexDigest(ofFileAt: partial) : nil
        if !(digest?.hasPrefix(hashPrefix) ?? false) {
            try download(url, to: partial, folder: folder, progress: progress, cancellation: cancellation)
            digest = try SHA256.hexDigest(ofFileAt: partial)
        }
        guard let digest, digest.hasPrefix(hashPrefix) else {
            try? FileManager.default.removeItem(atPath: partial)
            throw WeightsDownloadError(url: url.absoluteString, folder: folder,
                                       reason: "the file's SHA-256 starts with \((digest ?? "").prefix(hashPrefix.count)), not \(hashPrefix) "
                                           + "as its name says (a corrupt download or not the published file); it was deleted")
        }
        guard rename(partial, destination) == 0 else {
            throw WeightsDownloadError(url: url.absoluteString, folder: folder,
                                       reason: "cannot rename \(partial) to \(fileName) (\(String(cString: strerror(errno))))")
        }
        return destination
    }

    /// Appends the bytes of `url` to `partial` from its current size (the whole file when the
    /// server ignores the range), until the server's end.
    private func download(_ url: URL, to partial: String, folder: String,
                          progress: (@Sendable (Int64, Int64?) -> Void)?, cancellation: CancellationFlag?) throws {
        // Opened without following a link and without blocking, and used only if it is a
        // regular file: a FIFO or device put in its place would otherwise hang or be appended to.
        let descriptor = open(partial, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw WeightsDownloadError(url: url.absoluteString, folder: folder,
                                       reason: "cannot open \(partial) (\(UserFile.reason(forErrno: errno).reason))")
        }
        var info = stat()
        guard fstat(descriptor, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
            let kind = UserFile.kind(of: info.st_mode) ?? "not a regular file"
            close(descriptor)
            throw WeightsDownloadError(url: url.absoluteString, folder: folder, reason: "\(partial) is \(kind); remove it")
        }
        _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) & ~O_NONBLOCK)
        let handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
        defer { try? handle.close() }
        let start = (try? handle.seekToEnd()).map(Int64.init) ?? 0
        var request = URLRequest(url: url, timeoutInterval: idleTimeout)
        if start > 0 { request.setValue("bytes=\(start)-", forHTTPHeaderField: "Range") }
        let receiver = DownloadReceiver(handle: handle, start: start, progress: progress)
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = idleTimeout
        let session = URLSession(configuration: configuration, delegate: receiver, delegateQueue: nil)
        defer { session.finishTasksAndInvalidate() }
        let task = session.dataTask(with: request)
        task.resume()
        while receiver.finished.wait(timeout: .now() + .milliseconds(100)) == .timedOut {
            if let cancellation, cancellation.isCancelled { task.cancel() }
        }
        if let cancellation, cancellation.isCancelled { throw CancellationError() }
        let outcome = receiver.outcome
        if outcome.rangeRefused && start > 0 {
            // The server cannot resume from this part (it is longer than the file now there, or
            // the server changed it): start again from the first byte.
            try handle.truncate(atOffset: 0)
            try handle.close()
            return try download(url, to: partial, folder: folder, progress: progress, cancellation: cancellation)
        }
        if let failure = outcome.failure {
            throw WeightsDownloadError(url: url.absoluteString, folder: folder, reason: failure)
        }
        if let total = outcome.total, outcome.received < total {
            throw WeightsDownloadError(url: url.absoluteString, folder: folder,
                                       reason: "the connection ended after \(outcome.received) of \(total) bytes; "
                                           + "run it again to resume from \(partial)")
        }
    }
}

/// The URLSession delegate that writes a response body to a file as it arrives.
private final class DownloadReceiver: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    struct Outcome {
        var failure: String?
        /// Whether the server answered a range request with 416 (nothing to resume from there).
        var rangeRefused = false
        /// Bytes in the file (including what an earlier fetch left), and the whole size when known.
        var received: Int64 = 0
        var total: Int64?
    }

    let handle: FileHandle
    let progress: (@Sendable (Int64, Int64?) -> Void)?
    let finished = DispatchSemaphore(value: 0)
    private let lock = NSLock()
    private var state = Outcome()

    init(handle: FileHandle, start: Int64, progress: (@Sendable (Int64, Int64?) -> Void)?) {
        self.handle = handle
        self.progress = progress
        state.received = start
    }

    var outcome: Outcome { lock.withLock { state } }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
                    completionHandler: @escaping (URLSession.ResponseDisposition) -> Void) {
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        let length = response.expectedContentLength
        lock.withLock {
            switch status {
            case 206:
                state.total = length >= 0 ? state.received + length : nil
            case 200:
                // The server sent the whole file (no range support, or nothing to resume).
                try? handle.truncate(atOffset: 0)
                state.received = 0
                state.total = length >= 0 ? length : nil
            case 416:
                state.rangeRefused = true
                state.failure = "the server refused to resume the download (HTTP 416)"
            case 404, 410:
                state.failure = "the server has no such file (HTTP \(status))"
            default:
                state.failure = "the server answered HTTP \(status)"
            }
        }
        completionHandler(status == 200 || status == 206 ? .allow : .cancel)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        let snapshot: (Int64, Int64?)? = lock.withLock {
            guard state.failure == nil else { return nil }
            do {
                try handle.write(contentsOf: data)
            } catch {
                state.failure = "cannot write the download: \(error.localizedDescription)"
                dataTask.cancel()
                return nil
            }
            state.received += Int64(data.count)
            return (state.received, state.total)
        }
        if let snapshot { progress?(snapshot.0, snapshot.1) }
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: Error?) {
        lock.withLock {
            if state.failure == nil, let error, (error as? URLError)?.code != .cancelled {
                state.failure = Self.describe(error, host: task.originalRequest?.url?.host ?? "the server")
            }
        }
        finished.signal()
    }
}

extension DownloadReceiver {
    /// A network error in plain words (libcurl's own texts carry timings such as "after 0 ms").
    static func describe(_ error: Error, host: String) -> String {
        guard let code = (error as? URLError)?.code else { return error.localizedDescription }
        switch code {
        case .cannotConnectToHost: return "no server answers at \(host)"
        case .cannotFindHost, .dnsLookupFailed: return "the host \(host) cannot be found (no network, or no name service)"
        case .notConnectedToInternet: return "this machine is not connected to a network"
        case .timedOut: return "\(host) stopped answering"
        case .networkConnectionLost: return "the connection to \(host) was lost"
        case .secureConnectionFailed, .serverCertificateUntrusted, .serverCertificateHasBadDate,
             .serverCertificateNotYetValid, .serverCertificateHasUnknownRoot:
            return "the secure connection to \(host) failed (\(error.localizedDescription))"
        default: return error.localizedDescription
        }
    }
}

/// A weights file that could not be fetched: the URL, the folder and what to do instead.
public struct WeightsDownloadError: UserFacingError, Equatable {
    /// What was asked for.
    public let url: String
    /// Where the file was to go.
    public let folder: String
    /// What went wrong.
    public let reason: String

    /// Creates the error.
    public init(url: String, folder: String, reason: String) {
        self.url = url
        self.folder = folder
        self.reason = reason
    }

    /// The message, ending with the three ways forward.
    public var message: String {
        let file = (url as NSString).lastPathComponent
        return "cannot fetch \(url): \(reason). Without the network: put \(file) (downloaded elsewhere) in \(folder), "
            + "or give a checkpoint with weights=\"file.pth\", or use random_model for random weights"
    }
}
