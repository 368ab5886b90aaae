/// The environment variables the native libraries read only when they load, and the values
/// CAMScript wants for them on this machine.
///
/// OpenBLAS picks its kernels (`OPENBLAS_CORETYPE`) and OpenMP its wait policy
/// (`OMP_WAIT_POLICY`, for oneDNN's threads) when the process starts, so the executables
/// re-execute themselves once with these set; the child sees them set and carries on.
public enum LibraryEnvironment {
    /// The variables to set before the libraries load; empty when nothing needs changing
    /// (including when the user already chose a value).
    public static func preferred(_ environment: [String: String]) -> [String: String] {
        var wanted = OneDNNRuntime.preferredEnvironment(environment)
        if let core = BLAS.preferredCoreType(environment: environment) { wanted["OPENBLAS_CORETYPE"] = core }
        return wanted
    }
}
