import CAMRuntime
import Foundation

// OpenBLAS picks its kernels when it loads; on CPUs it does not know it falls back to slow
// generic ones, and only OPENBLAS_CORETYPE set before loading changes that. So, before anything
// else, re-execute this same program with the variable set (once: the child sees it set).
if let coreType = BLAS.preferredCoreType(environment: ProcessInfo.processInfo.environment) {
    setenv("OPENBLAS_CORETYPE", coreType, 1)
    execv("/proc/self/exe", CommandLine.unsafeArgv)
    // execv only returns on failure; then carry on with the generic kernels.
}

CAMScriptCommand.main()
