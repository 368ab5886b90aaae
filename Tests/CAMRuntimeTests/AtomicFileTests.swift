import CAMRuntime
import Foundation
import XCTest

/// `AtomicFile` on what a destination path can name (issue 17, class 1): symbolic links keep
/// their link, FIFOs and devices are written in place (never replaced), folders and trailing
/// slashes are refused, permissions are kept, and no failure leaves a temporary file.
final class AtomicFileTests: XCTestCase {
    private var folder = URL(fileURLWithPath: "/")

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("camscript-atomicfile-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: folder)
    }

    private func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

    private func temporaries() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".tmp") }
    }

    private func mode(_ path: String, following: Bool = false) -> mode_t {
        var info = stat()
        _ = following ? stat(path, &info) : lstat(path, &info)
        return info.st_mode
    }

    func testASymbolicLinkIsKeptAndItsTargetReplaced() throws {
        let target = path("real.png")
        try Data("old".utf8).write(to: URL(fileURLWithPath: target))
        XCTAssertEqual(symlink("real.png", path("link.png")), 0)
        try AtomicFile.write(Data("new".utf8), to: path("link.png"))
        XCTAssertEqual(mode(path("link.png")) & S_IFMT, S_IFLNK, "the link was replaced by a file")
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: path("link.png")), "real.png")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: target)), Data("new".utf8))
        XCTAssertEqual(try temporaries(), [])
    }

    func testADanglingSymbolicLinkGetsItsTargetCreated() throws {
        XCTAssertEqual(symlink("sub/made.npy", path("dangling.npy")), 0)
        try FileManager.default.createDirectory(atPath: path("sub"), withIntermediateDirectories: false)
        try AtomicFile.write(Data("x".utf8), to: path("dangling.npy"))
        XCTAssertEqual(mode(path("dangling.npy")) & S_IFMT, S_IFLNK)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path("sub/made.npy"))), Data("x".utf8))
    }

    func testPermissionBitsOfAReplacedFileAreKept() throws {
        let target = path("kept.npy")
        try Data("old".utf8).write(to: URL(fileURLWithPath: target))
        XCTAssertEqual(chmod(target, 0o600), 0)
        try AtomicFile.write(Data("new".utf8), to: target)
        XCTAssertEqual(mode(target) & 0o7777, 0o600)
        // Also through the named-temporary fallback.
        XCTAssertEqual(chmod(target, 0o640), 0)
        try AtomicFile.write(Data("newer".utf8), to: target, unnamedFirst: false,
                             writer: { Glibc.write($0, $1, $2) })
        XCTAssertEqual(mode(target) & 0o7777, 0o640)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: target)), Data("newer".utf8))
        XCTAssertEqual(try temporaries(), [])
    }

    func testAFIFOWithAReaderGetsTheBytesAndStaysAFIFO() throws {
        let fifo = path("pipe.png")
        XCTAssertEqual(mkfifo(fifo, 0o644), 0)
        let received = ReceivedBytes()
        let done = DispatchSemaphore(value: 0)
        Thread {
            let fd = open(fifo, O_RDONLY)  // blocks until a writer opens it
            var bytes = Data()
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = read(fd, &buffer, buffer.count)
                if n <= 0 { break }
                bytes.append(contentsOf: buffer[0..<n])
            }
            close(fd)
            received.data = bytes
            done.signal()
        }.start()
        let data = Data((0..<200_000).map { UInt8($0 % 251) })  // more than a pipe holds
        var attempts = 0
        while true {
            do {
                try AtomicFile.write(data, to: fifo)
                break
            } catch let error as FileIOError where error.message.contains("no process is reading") && attempts < 100 {
                attempts += 1  // the reader thread has not opened it yet
                usleep(20_000)
            }
        }
        XCTAssertEqual(done.wait(timeout: .now() + 10), .success)
        XCTAssertEqual(received.data, data)
        XCTAssertEqual(mode(fifo) & S_IFMT, S_IFIFO)
    }

    func testAFIFOWithoutAReaderIsRefusedAtOnce() throws {
        let fifo = path("nobody.png")
        XCTAssertEqual(mkfifo(fifo, 0o644), 0)
        let start = Date()
        XCTAssertThrowsError(try AtomicFile.write(Data("x".utf8), to: fifo)) { error in
            XCTAssertEqual("\(error)", "cannot write \(fifo): it is a FIFO (named pipe) that no process is reading; start the reader first")
        }
        XCTAssertLessThan(Date().timeIntervalSince(start), 2)
        XCTAssertEqual(mode(fifo) & S_IFMT, S_IFIFO)
        XCTAssertEqual(try temporaries(), [])
    }

    func testDevNullIsWrittenInPlaceAndStaysACharacterDevice() throws {
        var before = stat()
        XCTAssertEqual(stat("/dev/null", &before), 0)
        try AtomicFile.write(Data("discarded".utf8), to: "/dev/null")
        var after = stat()
        XCTAssertEqual(stat("/dev/null", &after), 0)
        XCTAssertEqual(after.st_mode & S_IFMT, S_IFCHR)
        XCTAssertEqual(after.st_ino, before.st_ino, "/dev/null was replaced")
        XCTAssertEqual(after.st_rdev, before.st_rdev)
        // Through a symbolic link too: the link stays.
        XCTAssertEqual(symlink("/dev/null", path("null.png")), 0)
        try AtomicFile.write(Data("discarded".utf8), to: path("null.png"))
        XCTAssertEqual(mode(path("null.png")) & S_IFMT, S_IFLNK)
    }

    func testAFolderATrailingSlashAndASocketAreRefused() throws {
        try FileManager.default.createDirectory(atPath: path("out.png"), withIntermediateDirectories: false)
        XCTAssertThrowsError(try AtomicFile.write(Data("x".utf8), to: path("out.png"))) { error in
            XCTAssertEqual("\(error)", "cannot write \(path("out.png")): it is a folder; give a file name")
        }
        XCTAssertThrowsError(try AtomicFile.write(Data("x".utf8), to: path("x.png") + "/")) { error in
            XCTAssertEqual("\(error)", "cannot write \(path("x.png"))/: a path ending in / names a folder; give a file name")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("x.png")), "a trailing slash wrote the file")
        XCTAssertEqual(symlink("out.png", path("to-folder.png")), 0)
        XCTAssertThrowsError(try AtomicFile.write(Data("x".utf8), to: path("to-folder.png"))) { error in
            XCTAssertTrue("\(error)".contains("which is a folder"), "\(error)")
        }
        let socketPath = path("s.sock")
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, byte) in socketPath.utf8.prefix(raw.count - 1).enumerated() { raw[i] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        XCTAssertEqual(bound, 0)
        XCTAssertThrowsError(try AtomicFile.write(Data("x".utf8), to: socketPath)) { error in
            XCTAssertTrue("\(error)".contains("it is a socket"), "\(error)")
        }
        XCTAssertEqual(mode(socketPath) & S_IFMT, S_IFSOCK)
    }

    func testAFailedWriteLeavesThePreviousFileAndNoTemporaryWithEitherKindOfTemporary() throws {
        let target = path("map.npy")
        let previous = Data("the earlier result".utf8)
        try previous.write(to: URL(fileURLWithPath: target))
        for unnamedFirst in [true, false] {
            var budget = 100
            XCTAssertThrowsError(try AtomicFile.write(Data(repeating: 7, count: 5000), to: target, unnamedFirst: unnamedFirst) { descriptor, bytes, count in
                guard budget > 0 else { errno = ENOSPC; return -1 }
                let n = Glibc.write(descriptor, bytes, min(count, budget))
                budget -= n
                return n
            })
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: target)), previous)
            XCTAssertEqual(try temporaries(), [])
        }
    }

    func testNoTemporaryNameExistsWhileTheBytesAreWritten() throws {
        // O_TMPFILE (0o20000000 | O_DIRECTORY): where the file system has it, nothing named
        // exists in the folder until the complete file is linked, so a kill leaves nothing.
        let probe = open(folder.path, 0o20000000 | O_DIRECTORY | O_WRONLY, 0o600)
        try XCTSkipIf(probe < 0, "this file system has no O_TMPFILE; the named fallback is tested elsewhere")
        close(probe)
        let target = path("during.npy")
        try Data("old".utf8).write(to: URL(fileURLWithPath: target))
        var seen: [[String]] = []
        try AtomicFile.write(Data(repeating: 3, count: 3000), to: target) { descriptor, bytes, count in
            seen.append((try? self.temporaries()) ?? ["unreadable"])
            return Glibc.write(descriptor, bytes, min(count, 1000))
        }
        XCTAssertEqual(seen.count, 3)
        XCTAssertTrue(seen.allSatisfy { $0.isEmpty }, "temporaries during the write: \(seen)")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: target)), Data(repeating: 3, count: 3000))
    }

    func testANewFileAppearsWholeUnderItsName() throws {
        let target = path("new.npy")
        let data = Data((0..<10_000).map { UInt8($0 % 256) })
        try AtomicFile.write(data, to: target)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: target)), data)
        XCTAssertEqual(mode(target) & S_IFMT, S_IFREG)
        XCTAssertEqual(try temporaries(), [])
        XCTAssertThrowsError(try AtomicFile.write(data, to: path("missing/new.npy"))) { error in
            XCTAssertEqual("\(error)", "cannot write \(path("missing/new.npy")): folder \(path("missing")) does not exist")
        }
    }
}

/// What a reader thread received.
private final class ReceivedBytes: @unchecked Sendable {
    var data: Data?
}
