import CAMRuntime
import Foundation

// OpenBLAS picks its kernels and OpenMP (oneDNN's threads) its wait policy when they load; on
// CPUs OpenBLAS does not know it falls back to slow generic kernels, and a spinning OpenMP
// thread slows everything else down on two cores. Only variables set before loading change
// that, so, before anything else, re-execute this same program with them set (once: the child
// sees them set).
let wanted = LibraryEnvironment.preferred(ProcessInfo.processInfo.environment)
if !wanted.isEmpty {
    for (name, value) in wanted { setenv(name, value, 1) }
    execv("/proc/self/exe", CommandLine.unsafeArgv)
    // execv only returns on failure; then carry on with the libraries' defaults.
}

/// The environment, read once here: sessions get it (and with it `RuntimeOptions`, the models
/// folder, `CAMSCRIPT_MAX_PASSES`), and so do the terminal and the history file.
let processEnvironment = ProcessInfo.processInfo.environment

let arguments = Array(CommandLine.arguments.dropFirst())
if let message = CAMScriptCommand.misspelledSubcommand(arguments, fileExists: { FileManager.default.fileExists(atPath: $0) }) {
    writeError(message + "\n")
    exit(ExitStatus.usage)
}
CAMScriptCommand.main(CAMScriptCommand.expandingScriptShorthand(arguments))
