import CoreGraphics
import Foundation

/// Image preprocessing from metadata.json: shorter side resized, centre crop, scale, normalise, NCHW.
struct ImagePreprocessor {
    let settings: KitMetadata.Preprocessing

    init(_ settings: KitMetadata.Preprocessing) { self.settings = settings }

    /// A (1, 3, height, width) float tensor, channel-major, as one flat array.
    func floats(_ image: CGImage) throws -> [Float] {
        guard let size = settings.image_size, let shorter = settings.resize_shorter_to,
              let mean = settings.mean, let std = settings.std else { throw CocoaError(.featureUnsupported) }
        let (height, width) = (size[0], size[1])
        let ratio = Double(shorter) / Double(min(image.width, image.height))
        let resized = (max(width, Int((Double(image.width) * ratio).rounded())), max(height, Int((Double(image.height) * ratio).rounded())))
        var rgba = [UInt8](repeating: 0, count: width * height * 4)
        guard let context = CGContext(data: &rgba, width: width, height: height, bitsPerComponent: 8, bytesPerRow: width * 4,
                                      space: CGColorSpaceCreateDeviceRGB(), bitmapInfo: CGImageAlphaInfo.noneSkipLast.rawValue)
        else { throw CocoaError(.featureUnsupported) }
        context.interpolationQuality = .medium
        // Draw the resized image so that its centre lands on the crop's centre.
        let origin = CGPoint(x: -Double(resized.0 - width) / 2, y: -Double(resized.1 - height) / 2)
        context.draw(image, in: CGRect(origin: origin, size: CGSize(width: resized.0, height: resized.1)))
        let plane = width * height
        let scale = settings.scale ?? 1 / 255
        var out = [Float](repeating: 0, count: 3 * plane)
        for i in 0..<plane {
            for c in 0..<3 {
                out[c * plane + i] = (Float(rgba[i * 4 + c]) * scale - mean[c]) / std[c]
            }
        }
        return out
    }
}
