// fuzz-max-len: 4096
// fuzz-seeds: fuzz/seeds/kernel
// fuzz-sources: Sources/CAMScript/Kernel/KernelMessage.swift

import Foundation

/// The kernel's readers of untrusted bytes: the multipart messages any client on the kernel's
/// ports can send (delimiter, signature, four JSON frames, buffers) and the connection file.
///
/// The first byte chooses what the rest is. Bit 0 clear: frames separated by 0xFF bytes (a byte
/// UTF-8 never contains, so JSON frames stay whole); bit 1 set signs them with a key first, so
/// that inputs get past the signature to the JSON parsing. Every refusal must be a
/// `KernelMessage.Rejection`; an accepted message must survive its own round trip (the frames
/// the kernel would send parse back to the same type and content). Bit 0 set: the rest is a
/// connection file, which must be accepted or refused with a `KernelError`.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzKernelMessage(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let data = start.map { Data(bytes: $0, count: count) } ?? Data()
    guard let mode = data.first else { return 0 }
    let rest = data.dropFirst()
    if mode & 1 == 1 {
        do {
            let info = try ConnectionInfo.parse(Data(rest), path: "fuzz.json")
            precondition((1...65535).contains(info.shellPort) && info.transport == "tcp")
            _ = info.endpoint(info.hbPort)
        } catch is KernelError {
            // Refused with a message.
        } catch {
            fatalError("a connection file was refused with \(type(of: error)), not a KernelError")
        }
        return 0
    }
    var frames = rest.split(separator: 0xFF, omittingEmptySubsequences: false).map { Data($0) }
    let signer = MessageSigner(key: mode & 2 == 2 ? "fuzz-key" : "")
    if mode & 2 == 2, let split = frames.firstIndex(of: KernelMessage.delimiter), frames.count > split + 5 {
        frames[split + 1] = Data(signer.signature(Array(frames[(split + 2)...(split + 5)])).utf8)
    }
    let message: KernelMessage
    do {
        message = try KernelMessage(frames: frames, signer: signer)
    } catch is KernelMessage.Rejection {
        return 0
    } catch {
        fatalError("a message was refused with \(type(of: error)), not a Rejection")
    }
    // What the kernel would send back parses again, signed with the same key.
    let again: KernelMessage
    do {
        again = try KernelMessage(frames: message.frames(signer: signer), signer: signer)
    } catch {
        fatalError("the kernel's own frames for a \(message.type) message were refused: \(error)")
    }
    precondition(again.type == message.type && again.identities == message.identities
                  && again.buffers == message.buffers && again.content.count == message.content.count,
                  "a message changed in its round trip")
    // A changed content frame must not verify.
    if mode & 2 == 2 {
        var tampered = message.frames(signer: signer)
        if let split = tampered.firstIndex(of: KernelMessage.delimiter) {
            tampered[split + 5].append(0x20)
            precondition((try? KernelMessage(frames: tampered, signer: signer)) == nil, "a tampered message verified")
        }
    }
    return 0
}
