import COpenBLAS
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What CAMScript needs to know about the BLAS library it runs on.
public enum BLAS {
    /// The kernel family OpenBLAS chose for this CPU, e.g. `"SkylakeX"` or `"Prescott"`.
    public static var coreName: String {
        guard let name = openblas_get_corename() else { return "unknown" }
        return String(cString: name)
    }

    /// The number of threads OpenBLAS uses.
    public static var threadCount: Int { Int(openblas_get_num_threads()) }

    /// The core type to ask OpenBLAS for when it fell back to its generic kernels on a CPU
    /// that has better ones, or `nil` when its own choice is fine.
    ///
    /// Debian's OpenBLAS 0.3.21 does not know recent CPU models and falls back to "Prescott",
    /// about 5× slower than its AVX-512 kernels (see docs/performance.md). The core type can only
    /// be chosen through `OPENBLAS_CORETYPE` before the library loads, so the CLI re-executes
    /// itself with it set.
    public static func preferredCoreType(environment: [String: String]) -> String? {
        guard environment["OPENBLAS_CORETYPE"] == nil, coreName == "Prescott" else { return nil }
        let flags = cpuFlags()
        if flags.contains("avx512f") && flags.contains("avx512bw") && flags.contains("avx512vl") {
            return "SkylakeX"
        }
        if flags.contains("avx2") && flags.contains("fma") { return "Haswell" }
        return nil
    }

    /// The CPU feature flags the kernel reports in /proc/cpuinfo (empty where unreadable).
    static func cpuFlags() -> Set<Substring> {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("flags") }),
              let colon = line.firstIndex(of: ":") else { return [] }
        return Set(line[line.index(after: colon)...].split(separator: " "))
    }
}
