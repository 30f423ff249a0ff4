package dev.edgeship.kit

import android.graphics.Bitmap
import org.json.JSONObject
import kotlin.math.min
import kotlin.math.roundToInt

/** Image preprocessing from metadata.json: shorter side resized, centre crop, scale, normalise, NCHW. */
class ImagePreprocessor(settings: JSONObject) {
    private val height = settings.getJSONArray("image_size").getInt(0)
    private val width = settings.getJSONArray("image_size").getInt(1)
    private val shorter = settings.getInt("resize_shorter_to")
    private val filter = settings.getString("interpolation") != "nearest"
    private val scale = settings.getDouble("scale").toFloat()
    private val mean = FloatArray(3) { settings.getJSONArray("mean").getDouble(it).toFloat() }
    private val std = FloatArray(3) { settings.getJSONArray("std").getDouble(it).toFloat() }

    /** A (1, 3, height, width) float tensor, channel-major, as one flat array. */
    fun toFloatArray(bitmap: Bitmap): FloatArray {
        val ratio = shorter.toFloat() / min(bitmap.width, bitmap.height)
        val resizedWidth = maxOf(width, (bitmap.width * ratio).roundToInt())
        val resizedHeight = maxOf(height, (bitmap.height * ratio).roundToInt())
        val resized = Bitmap.createScaledBitmap(bitmap, resizedWidth, resizedHeight, filter)
        val left = (resizedWidth - width) / 2
        val top = (resizedHeight - height) / 2
        val argb = IntArray(width * height)
        resized.getPixels(argb, 0, width, left, top, width, height)
        val plane = width * height
        val out = FloatArray(3 * plane)
        for (i in 0 until plane) {
            val pixel = argb[i]
            val rgb = intArrayOf((pixel shr 16) and 0xFF, (pixel shr 8) and 0xFF, pixel and 0xFF)
            for (c in 0 until 3) {
                out[c * plane + i] = (rgb[c] * scale - mean[c]) / std[c]
            }
        }
        return out
    }
}
