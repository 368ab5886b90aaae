/// The runtime's switches for comparisons and diagnosis. A program reads them from its
/// environment once (camscript's main, CAMBench's) and gives them to the networks it makes;
/// library code never reads the environment itself.
public struct RuntimeOptions: Sendable, Equatable {
    /// Whether inference passes may run on oneDNN (`CAMSCRIPT_ONEDNN=0` turns it off: the
    /// OpenBLAS path, for comparisons).
    public var allowsOneDNN: Bool
    /// Whether oneDNN may use Winograd for 3×3 convolutions (`CAMSCRIPT_WINOGRAD=0` turns it off).
    public var allowsWinograd: Bool

    /// Options with everything on unless said otherwise.
    public init(allowsOneDNN: Bool = true, allowsWinograd: Bool = true) {
        self.allowsOneDNN = allowsOneDNN
        self.allowsWinograd = allowsWinograd
    }

    /// The options an environment asks for: `CAMSCRIPT_ONEDNN=0`, `CAMSCRIPT_WINOGRAD=0`.
    public init(environment: [String: String]) {
        self.init(allowsOneDNN: environment["CAMSCRIPT_ONEDNN"] != "0",
                  allowsWinograd: environment["CAMSCRIPT_WINOGRAD"] != "0")
    }
}
