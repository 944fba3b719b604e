//! QR codes as images, for showing on a screen to scan.

use qrcode::QrCode;
use qrcode::render::svg;

use crate::error::ApiError;

/// Pixels per QR module and modules of quiet zone around the code.
const SCALE: usize = 8;
const QUIET: usize = 4;

pub fn svg(text: &str) -> Result<String, ApiError> {
    let code = encode(text)?;
    Ok(code.render::<svg::Color<'_>>().min_dimensions(256, 256).quiet_zone(true).build())
}

/// A black-on-white 8-bit grayscale PNG.
pub fn png(text: &str) -> Result<Vec<u8>, ApiError> {
    let code = encode(text)?;
    let width = code.width();
    let side = (width + 2 * QUIET) * SCALE;
    let colors = code.to_colors();
    let mut pixels = vec![255u8; side * side];
    for (i, color) in colors.iter().enumerate() {
        if *color == qrcode::Color::Dark {
            let (mx, my) = ((i % width + QUIET) * SCALE, (i / width + QUIET) * SCALE);
            for y in my..my + SCALE {
                pixels[y * side + mx..y * side + mx + SCALE].fill(0);
            }
        }
    }
    let mut out = Vec::new();
    let side_u32 = u32::try_from(side).map_err(|_| internal("QR image too large"))?;
    let mut encoder = png::Encoder::new(&mut out, side_u32, side_u32);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(|e| internal(&e.to_string()))?;
    writer.write_image_data(&pixels).map_err(|e| internal(&e.to_string()))?;
    writer.finish().map_err(|e| internal(&e.to_string()))?;
    Ok(out)
}

fn encode(text: &str) -> Result<QrCode, ApiError> {
    QrCode::new(text.as_bytes()).map_err(|e| internal(&format!("could not encode the QR code: {e}")))
}

fn internal(why: &str) -> ApiError {
    ApiError::from(wagate_core::Error::Internal(anyhow::anyhow!(why.to_owned())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn png_has_the_png_signature_and_svg_is_svg() {
        let png = png("2@abc,def,ghi,jkl").unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        assert!(svg("2@abc").unwrap().contains("<svg"));
    }
}
