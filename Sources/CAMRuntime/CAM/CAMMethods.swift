/// The CAM methods by the names users type (`gradcam`, `gradcam++`, `scorecam`, …).
public enum CAMMethods {
    /// The canonical user-facing names, in pytorch-grad-cam's order.
    public static let names = ["gradcam", "gradcam++", "xgradcam", "hirescam", "gradcam_elementwise", "layercam",
                               "eigencam", "eigengradcam", "scorecam", "ablationcam", "fullgrad", "fem", "randomcam"]

    /// The method for a user-typed name, matched ignoring case, `_`, `-` and spaces (`"GradCAM++"`,
    /// `"gradcampp"`, `"gradcam_plusplus"`, `"GradCAMElementWise"` all work). `seed` seeds RandomCAM.
    /// Unknown names throw an error that lists the valid ones, nearest first.
    public static func make(named name: String, seed: UInt32 = 0) throws -> CAMMethod {
        switch key(name) {
        case "gradcam": return GradCAM()
        case "gradcam++", "gradcampp", "gradcamplusplus": return GradCAMPlusPlus()
        case "xgradcam": return XGradCAM()
        case "hirescam": return HiResCAM()
        case "gradcamelementwise": return GradCAMElementWise()
        case "layercam": return LayerCAM()
        case "eigencam": return EigenCAM()
        case "eigengradcam": return EigenGradCAM()
        case "scorecam": return ScoreCAM()
        case "ablationcam": return AblationCAM()
        case "fullgrad": return FullGrad()
        case "fem": return FEM()
        case "randomcam": return RandomCAM(seed: seed)
        default:
            let keys = names.map(key)
            let ranked = NameMatching.nearest(to: key(name), in: keys, limit: keys.count).compactMap { k in
                keys.firstIndex(of: k).map { names[$0] }
            }
            let best = NameMatching.best(for: key(name), in: keys).flatMap { k in keys.firstIndex(of: k).map { names[$0] } }
                ?? ranked.first ?? "gradcam"
            throw RuntimeError("unknown CAM method \"\(name)\"; did you mean \"\(best)\"? The methods are: \(ranked.joined(separator: ", "))")
        }
    }

    static func key(_ name: String) -> String {
        String(name.lowercased().filter { $0 != "_" && $0 != "-" && $0 != " " })
    }
}
