/// The registry of CAM methods: a list of their declarations, in pytorch-grad-cam's order. Adding
/// a method is one file under `CAM/Methods/` and one line here; the builtins, `help`,
/// completion, `check`, the cost announcement and the Python-habit pointers follow from it.
public enum CAMMethods {
    /// Every method's declaration.
    public static let all: [CAMMethodInfo] = [
        GradCAM.info,
        GradCAMPlusPlus.info,
        XGradCAM.info,
        HiResCAM.info,
        GradCAMElementWise.info,
        LayerCAM.info,
        EigenCAM.info,
        EigenGradCAM.info,
        ScoreCAM.info,
        AblationCAM.info,
        FullGrad.info,
        FEM.info,
        RandomCAM.info,
        KPCACAM.info,
        ShapleyCAM.info,
        FinerCAM.info,
        SegEigenCAM.info,
        RefineCAM.info,
        SESS.info,
        OriginalCAM.info,
        ISCAM.info,
        SSCAM.info,
        SmoothGradCAMPlusPlus.info,
        LeGrad.info,
        Saliency.info,
        SmoothGrad.info,
        IntegratedGradients.info,
    ]

    /// The canonical user-facing names, in the registry's order.
    public static var names: [String] { all.map(\.name) }

    /// The declaration for a user-typed name, matched ignoring case, `_`, `-` and spaces against
    /// each method's name, builtin, aliases and class name (`"GradCAM++"`, `"gradcampp"`,
    /// `"gradcam_plusplus"`, `"GradCAMElementWise"` all work). Unknown names throw an error that
    /// lists the valid ones, nearest first.
    public static func info(named name: String) throws -> CAMMethodInfo {
        let wanted = key(name)
        if let found = all.first(where: { info in
            ([info.name, info.builtin, info.className] + info.aliases).contains { key($0) == wanted }
        }) {
            return found
        }
        let keys = names.map(key)
        let ranked = NameMatching.nearest(to: wanted, in: keys, limit: keys.count).compactMap { k in
            keys.firstIndex(of: k).map { names[$0] }
        }
        let best = NameMatching.best(for: wanted, in: keys).flatMap { k in keys.firstIndex(of: k).map { names[$0] } }
            ?? ranked.first ?? "gradcam"
        throw RuntimeError("unknown CAM method \"\(name)\"; did you mean \"\(best)\"? The methods are: \(ranked.joined(separator: ", "))")
    }

    /// The method for a user-typed name (see `info(named:)`), made with `options`.
    public static func make(named name: String, options: CAMOptionValues = CAMOptionValues()) throws -> any CAMMethod {
        try info(named: name).make(options)
    }

    /// The method for a user-typed name; `seed` seeds RandomCAM.
    public static func make(named name: String, seed: UInt32) throws -> any CAMMethod {
        try make(named: name, options: CAMOptionValues(["seed": Double(seed)]))
    }

    /// The methods that take an option, by its keyword, in registry order.
    public static func methods(taking option: String) -> [CAMMethodInfo] {
        all.filter { $0.options.contains { $0.name == option } }
    }

    static func key(_ name: String) -> String {
        String(name.lowercased().filter { $0 != "_" && $0 != "-" && $0 != " " })
    }
}
