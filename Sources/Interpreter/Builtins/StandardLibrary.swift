extension BuiltinRegistry {
    /// Everything the shipped `camscript` offers: the language's core builtins plus the ones each
    /// runtime area registers from its own file (one line per area here, e.g.
    /// `registry.registerImageBuiltins()`).
    public static var standard: BuiltinRegistry {
        var registry = core
        registry.registerImageBuiltins()
        registry.registerModelBuiltins()
        registry.registerCAMBuiltins()
        registry.registerMetricBuiltins()
        registry.registerMetricTableBuiltins()
        registry.registerCurveBuiltins()
        registry.registerSanityBuiltins()
        registry.registerDFFBuiltin()
        registry.registerSimilarityBuiltin()
        registry.registerDatasetBuiltins()
        return registry
    }
}
