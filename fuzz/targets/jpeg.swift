// fuzz-max-len: 32768
// fuzz-seeds: fuzz/seeds/jpeg Tests/CAMRuntimeTests/Fixtures/imaging/files

import Foundation
import CAMRuntime

/// JPEG decoding through `RGBImage(data:)` (TurboJPEG: baseline, progressive, subsampling,
/// grayscale, CMYK refusal, EXIF orientation), then the crop path that decodes only a column
/// band on libjpeg's API (`RGBImage.preprocessedCrop(data:preset:)`), with a small preset (so
/// that small inputs have a band narrower than the image) and one that keeps nearly every row
/// (so that images of 840 rows and more reach the crop path's two decoders); `RGBImage(data:)`
/// itself uses two decoders from 2 megapixels (a seed has 2.03). Inputs without the JPEG
/// signature are skipped.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJPEG(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    runFuzzInput(start, count) { data in
        guard ImageFileFormat.detect(data) == .jpeg else { return }
        let presets = [InputPreset(resizeShorterSide: 24, cropSize: 8, interpolation: .bicubic, mean: [0, 0, 0], std: [1, 1, 1]),
                       InputPreset(resizeShorterSide: 24, cropSize: 23, interpolation: .bilinear, mean: [0, 0, 0], std: [1, 1, 1])]
        let crops = presets.map { try? RGBImage.preprocessedCrop(data: data, preset: $0, fileName: "fuzz.jpg") }
        let image = try RGBImage(data: data, fileName: "fuzz.jpg")
        // Both paths decode the same pixels: a crop must then be the full path's, byte for byte.
        for (preset, crop) in zip(presets, crops) {
            if let crop, crop != preprocessedCrop(image, preset: preset) {
                fputs("fuzz: the band-decoding crop differs from the full decode's\n", stderr)
                abort()
            }
        }
    }
}
