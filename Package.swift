// swift-tools-version:6.0
import PackageDescription

/// Release builds are tuned for the CPU they run on only through BLAS; Swift code stays portable.
let package = Package(
    name: "CAMScript",
    products: [
        .executable(name: "camscript", targets: ["CAMScript"]),
        .library(name: "CAMRuntime", targets: ["CAMRuntime"]),
        .library(name: "Interpreter", targets: ["Interpreter"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CReadline",
            path: "Sources/CReadline",
            providers: [.apt(["libreadline-dev"])]
        ),
        // FreeType draws the captions of pictures (label, colorbar) with the bundled DejaVu Sans.
        .systemLibrary(
            name: "CFreeType",
            path: "Sources/CFreeType",
            pkgConfig: "freetype2",
            providers: [.apt(["libfreetype-dev"])]
        ),
        .systemLibrary(
            name: "CPNG",
            path: "Sources/CPNG",
            pkgConfig: "libpng16",
            providers: [.apt(["libpng-dev"])]
        ),
        .systemLibrary(
            name: "CJPEG",
            path: "Sources/CJPEG",
            pkgConfig: "libturbojpeg",
            providers: [.apt(["libturbojpeg0-dev"])]
        ),
        .systemLibrary(
            name: "COpenBLAS",
            path: "Sources/COpenBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev", "liblapacke-dev"])]
        ),
        .systemLibrary(
            name: "CCrypto",
            path: "Sources/CCrypto",
            pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"])]
        ),
        // ZeroMQ carries the Jupyter kernel's five channels (`camscript kernel`).
        .systemLibrary(
            name: "CZMQ",
            path: "Sources/CZMQ",
            // No pkgConfig: Debian's libzmq.pc adds -isystem flags (Kerberos) that SwiftPM
            // refuses with a warning; the header and library are in the default paths.
            providers: [.apt(["libzmq3-dev"])]
        ),
        // cmark-gfm renders the markdown cells of HTML reports (CommonMark with GitHub's tables);
        // its pkg-config file links the extensions library too.
        .systemLibrary(
            name: "CCmarkGFM",
            path: "Sources/CCmarkGFM",
            pkgConfig: "libcmark-gfm",
            providers: [.apt(["libcmark-gfm-dev", "libcmark-gfm-extensions-dev"])]
        ),
        // SuiteSparse's CHOLMOD solves the sparse systems of ROAD's linear imputation.
        .systemLibrary(
            name: "CSuiteSparse",
            path: "Sources/CSuiteSparse",
            providers: [.apt(["libsuitesparse-dev"])]
        ),
        .systemLibrary(
            name: "CDNNL",
            path: "Sources/CDNNL",
            providers: [.apt(["libdnnl-dev"])]
        ),
        // libpng's low-level reader for Pillow's per-colour-type rules; in C because libpng
        // reports errors with longjmp.
        .target(
            name: "CPNGRead",
            dependencies: ["CPNG"],
            path: "Sources/CPNGRead"
        ),
        .target(
            name: "CJPEGScan",
            path: "Sources/CJPEGScan",
            linkerSettings: [.linkedLibrary("jpeg")]
        ),
        // The ONNX messages CAMScript reads, as Swift code generated from camscript_onnx.proto by
        // tools/onnx/regenerate.sh and committed (the build never runs protoc).
        .target(
            name: "ONNXProto",
            dependencies: [.product(name: "SwiftProtobuf", package: "swift-protobuf")],
            exclude: ["camscript_onnx.proto"]
        ),
        .target(
            name: "CAMRuntime",
            dependencies: ["CPNG", "CPNGRead", "CJPEG", "CJPEGScan", "COpenBLAS", "CDNNL", "CCrypto", "ONNXProto", "CFreeType", "CSuiteSparse"],
            // The caption font and its licence, copied next to every executable that links the runtime.
            resources: [.copy("Imaging/Fonts")]
        ),
        .target(
            name: "Interpreter",
            dependencies: ["CAMRuntime"]
        ),
        .executableTarget(
            name: "CAMScript",
            dependencies: [
                "Interpreter",
                "CAMRuntime",
                "CReadline",
                "CCmarkGFM",
                "CZMQ",
                "CCrypto",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "CAMBench",
            dependencies: ["CAMRuntime"],
            path: "bench/Sources/CAMBench"
        ),
        .testTarget(
            name: "CAMRuntimeTests",
            // ONNXProto and SwiftProtobuf: the ONNX reader's tests write hostile models with them.
            dependencies: ["CAMRuntime", "ONNXProto", .product(name: "SwiftProtobuf", package: "swift-protobuf")],
            exclude: ["Fixtures"]
        ),
        .testTarget(
            name: "InterpreterTests",
            dependencies: ["Interpreter", "CAMRuntime"],
            exclude: ["Golden"]
        ),
        .testTarget(
            name: "CAMScriptTests",
            dependencies: ["CAMScript"]
        ),
    ],
    swiftLanguageModes: [.v5]
)
