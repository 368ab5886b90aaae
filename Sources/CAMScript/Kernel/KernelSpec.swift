import CAMRuntime
import Foundation

/// The kernelspec that makes Jupyter start `camscript kernel`: `kernel.json` and two logos in a
/// `camscript` folder of a Jupyter data directory's `kernels/`.
enum KernelSpec {
    /// The kernelspec's name, the one `camscript run --ipynb` writes into notebooks.
    static let name = "camscript"

    /// Where the kernelspec goes.
    enum Location {
        /// The user's Jupyter data directory (`$JUPYTER_DATA_DIR`, else `~/.local/share/jupyter`).
        case user
        /// The active virtualenv or conda environment (`$VIRTUAL_ENV`, `$CONDA_PREFIX`).
        case sysPrefix
        /// `PREFIX/share/jupyter`.
        case prefix(String)
        /// The system-wide directory, `/usr/local/share/jupyter`.
        case system
    }

    /// The `kernels` folder of `location`.
    static func kernelsFolder(_ location: Location, environment: [String: String]) throws -> String {
        switch location {
        case .user:
            if let data = environment["JUPYTER_DATA_DIR"], !data.isEmpty { return data + "/kernels" }
            let home = environment["HOME"] ?? NSHomeDirectory()
            let share = environment["XDG_DATA_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? home + "/.local/share"
            return share + "/jupyter/kernels"
        case .sysPrefix:
            guard let prefix = [environment["VIRTUAL_ENV"], environment["CONDA_PREFIX"]].compactMap({ $0 })
                .first(where: { !$0.isEmpty }) else {
                throw KernelError("--sys-prefix needs an active virtualenv or conda environment (VIRTUAL_ENV or CONDA_PREFIX); "
                                  + "use --user, or --prefix with the environment's folder")
            }
            return prefix + "/share/jupyter/kernels"
        case .prefix(let prefix):
            return prefix + "/share/jupyter/kernels"
        case .system:
            return "/usr/local/share/jupyter/kernels"
        }
    }

    /// The name Jupyter shows.
    static let displayName = "CAMScript"
    /// The language name in kernelspecs, notebooks and `language_info`.
    static let language = "camscript"

    /// The kernelspec as notebooks name it (`metadata.kernelspec`).
    static let notebookKernelspec: [String: Any] = ["name": name, "display_name": displayName, "language": language]

    /// What notebooks and the kernel's `kernel_info_reply` say of the language: one definition,
    /// so that an exported notebook and a live kernel highlight cells alike.
    static func languageInfo(version: String) -> [String: Any] {
        ["name": language, "version": version, "mimetype": "text/x-camscript", "file_extension": ".cam",
         "pygments_lexer": "python", "codemirror_mode": "python"]
    }

    /// `kernel.json`: how Jupyter starts the kernel (SIGINT interrupts it).
    static func json(executable: String) throws -> Data {
        let spec: [String: Any] = [
            "argv": [executable, "kernel", "-f", "{connection_file}"],
            "display_name": displayName,
            "language": language,
            "interrupt_mode": "signal",
            "metadata": ["debugger": false],
        ]
        return try JSONSerialization.data(withJSONObject: spec, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
    }

    /// A `size`-pixel logo: a class activation map's hot spot in the JET colours.
    static func logo(size: Int) throws -> Data {
        let jet = try Colormap.named("jet")
        var pixels = [UInt8]()
        pixels.reserveCapacity(size * size * 3)
        let centre = Float(size - 1) / 2
        for y in 0..<size {
            for x in 0..<size {
                let dx = (Float(x) - centre * 1.1) / Float(size), dy = (Float(y) - centre * 0.9) / Float(size)
                let heat = exp(-(dx * dx + dy * dy) / 0.08)
                let color = jet.color(for: heat)
                pixels += [color.red, color.green, color.blue]
            }
        }
        return try RGBImage(width: size, height: size, pixels: pixels).pngData()
    }

    /// Writes the kernelspec into `location`; returns its folder.
    static func install(_ location: Location, executable: String, environment: [String: String]) throws -> String {
        let folder = try kernelsFolder(location, environment: environment) + "/" + name
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } catch {
            throw KernelError("cannot create \(folder): \(error.localizedDescription)"
                              + (location.isSystem ? " (install for yourself with --user)" : ""))
        }
        do {
            try AtomicFile.write(try json(executable: executable), to: folder + "/kernel.json")
            try AtomicFile.write(try logo(size: 32), to: folder + "/logo-32x32.png")
            try AtomicFile.write(try logo(size: 64), to: folder + "/logo-64x64.png")
        } catch let error as KernelError {
            throw error
        } catch {
            throw KernelError("cannot write the kernelspec into \(folder): \(error)")
        }
        return folder
    }
}

extension KernelSpec.Location {
    var isSystem: Bool {
        if case .system = self { return true }
        return false
    }
}
