import CAMRuntime
import Foundation

/// A file a run loaded that says what produced its results (a model checkpoint, typically),
/// with its SHA-256 so that a report names exactly which bytes were used.
public struct ProvenanceRecord: Sendable, Equatable {
    /// What the file is, for people: e.g. `"model"` or `"model efficientnet_lite0"`.
    public var kind: String
    /// The path as loaded (resolved, absolute).
    public var path: String
    /// The lowercase hexadecimal SHA-256 of the file's bytes.
    public var sha256: String

    /// The record of a model whose weights `random_model` made: no file, no checksum; reports
    /// say loudly that its predictions and maps mean nothing.
    public static func randomWeights(architecture: String) -> ProvenanceRecord {
        ProvenanceRecord(kind: "random weights", path: architecture, sha256: "")
    }

    /// Whether this records random weights rather than a file.
    public var isRandomWeights: Bool { kind == "random weights" && sha256.isEmpty }

    /// Creates a record.
    public init(kind: String, path: String, sha256: String) {
        self.kind = kind
        self.path = path
        self.sha256 = sha256
    }
}

extension CallContext {
    /// Records a file the run loaded (a loader calls this after reading a model), hashing it
    /// with SHA-256; reports list these records in their header. Recording the same path twice
    /// keeps one record.
    /// - Throws: `ScriptIOError` when the file cannot be read.
    public func recordLoadedFile(at path: String, kind: String) throws {
        guard session.recordsProvenance else { return }
        if session.provenance.contains(where: { $0.path == path && $0.kind == kind }) { return }
        let digest: String
        do {
            digest = try SHA256.hexDigest(ofFileAt: path)
        } catch let error as RuntimeError {
            throw ScriptIOError(error.message, missing: !FileManager.default.fileExists(atPath: path))
        }
        session.provenance.append(ProvenanceRecord(kind: kind, path: path, sha256: digest))
    }

    /// Records a provenance entry whose checksum the caller already knows.
    public func record(_ provenance: ProvenanceRecord) {
        if session.provenance.contains(provenance) { return }
        session.provenance.append(provenance)
    }
}

extension Session {
    /// The files the run loaded so far that reports name (models, with their SHA-256), in
    /// loading order.
    public var provenance: [ProvenanceRecord] { state.provenance }

    /// Whether loading a model records the file with its SHA-256 for a report (true by default).
    /// A run that writes no report turns it off: hashing a 100 MB checkpoint took a third of the
    /// seed workflow's time (bench/seed).
    public var recordsProvenance: Bool {
        get { state.recordsProvenance }
        set { state.recordsProvenance = newValue }
    }
}

