//! Pictures: decoded with the `image` crate (which proves they are pictures), re-encoded
//! to the JPEG WhatsApp expects, turned into 512×512 WebP stickers, and shrunk into the
//! small JPEG preview a chat shows before the download.

use std::io::Cursor;

use bytes::Bytes;
use image::codecs::jpeg::JpegEncoder;
use image::codecs::webp::WebPEncoder;
use image::imageops::FilterType;
use image::{DynamicImage, ExtendedColorType, ImageFormat, ImageReader, Limits, Rgba, RgbaImage};

use super::{ImagePolicy, MediaError};

/// Longest side of a preview thumbnail.
pub const THUMBNAIL_SIDE: u32 = 72;
/// WhatsApp stickers are this wide and high.
pub const STICKER_SIDE: u32 = 512;
/// The largest picture decoded: bigger ones are refused before memory is spent on them.
const MAX_DIMENSION: u32 = 16_384;
const MAX_DECODE_BYTES: u64 = 512 * 1024 * 1024;

/// A picture ready to be stored.
pub struct Picture {
    pub bytes: Bytes,
    pub mimetype: &'static str,
    pub width: u32,
    pub height: u32,
    pub thumbnail: Option<Bytes>,
}

/// Decodes `bytes` as one of the formats WhatsApp uses (JPEG, PNG, WebP, GIF), turned
/// upright by its EXIF orientation.
pub fn decode(bytes: &[u8]) -> Result<(ImageFormat, DynamicImage), MediaError> {
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| MediaError::Internal(anyhow::Error::new(e).context("read image header")))?;
    let format = match reader.format() {
        Some(f @ (ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::WebP | ImageFormat::Gif)) => f,
        Some(other) => {
            return Err(MediaError::Invalid(format!(
                "{} pictures are not supported; send JPEG, PNG, WebP or GIF",
                other.extensions_str().first().copied().unwrap_or("this kind of")
            )));
        }
        None => return Err(MediaError::Invalid("the file is not a picture (JPEG, PNG, WebP or GIF)".to_owned())),
    };
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_DIMENSION);
    limits.max_image_height = Some(MAX_DIMENSION);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    let invalid = |e: image::ImageError| MediaError::Invalid(format!("the picture cannot be decoded: {e}"));
    let mut decoder = reader.into_decoder().map_err(invalid)?;
    let orientation = image::ImageDecoder::orientation(&mut decoder).map_err(invalid)?;
    let mut picture = DynamicImage::from_decoder(decoder).map_err(invalid)?;
    picture.apply_orientation(orientation);
    Ok((format, picture))
}

/// A picture to send as an `image`: re-encoded to JPEG, its longest side at most
/// `policy.max_side`, when `policy.reencode`; else kept byte for byte.
pub fn prepare(bytes: Bytes, policy: &ImagePolicy) -> Result<Picture, MediaError> {
    let (format, picture) = decode(&bytes)?;
    let thumbnail = thumbnail(&picture)?;
    if !policy.reencode {
        return Ok(Picture {
            mimetype: format.to_mime_type(),
            width: picture.width(),
            height: picture.height(),
            thumbnail: Some(thumbnail),
            bytes,
        });
    }
    let side = policy.max_side.max(1);
    let picture = if picture.width().max(picture.height()) > side {
        picture.resize(side, side, FilterType::Lanczos3)
    } else {
        picture
    };
    let jpeg = to_jpeg(&picture, policy.jpeg_quality)?;
    Ok(Picture {
        bytes: jpeg,
        mimetype: "image/jpeg",
        width: picture.width(),
        height: picture.height(),
        thumbnail: Some(thumbnail),
    })
}

/// Any picture as a sticker: fitted inside 512×512, centred on a transparent square,
/// encoded as WebP (lossless: the `image` crate has no lossy WebP encoder, and
/// stickers are small).
pub fn sticker(bytes: &[u8]) -> Result<Picture, MediaError> {
    let (_, picture) = decode(bytes)?;
    let fitted = picture.resize(STICKER_SIDE, STICKER_SIDE, FilterType::Lanczos3).to_rgba8();
    let mut canvas = RgbaImage::from_pixel(STICKER_SIDE, STICKER_SIDE, Rgba([0, 0, 0, 0]));
    let x = i64::from((STICKER_SIDE - fitted.width()) / 2);
    let y = i64::from((STICKER_SIDE - fitted.height()) / 2);
    image::imageops::overlay(&mut canvas, &fitted, x, y);
    let mut webp = Vec::new();
    WebPEncoder::new_lossless(&mut webp)
        .encode(canvas.as_raw(), STICKER_SIDE, STICKER_SIDE, ExtendedColorType::Rgba8)
        .map_err(|e| MediaError::Internal(anyhow::Error::new(e).context("encode sticker as WebP")))?;
    Ok(Picture {
        bytes: Bytes::from(webp),
        mimetype: "image/webp",
        width: STICKER_SIDE,
        height: STICKER_SIDE,
        thumbnail: None,
    })
}

/// Side of a group or profile picture, as WhatsApp's apps upload them.
pub const PROFILE_SIDE: u32 = 640;

/// Any picture as a profile or group picture: the largest centred square, at most
/// [`PROFILE_SIDE`] on a side, as a JPEG (WhatsApp shows these square and takes JPEG).
pub fn profile_picture(bytes: &[u8]) -> Result<Bytes, MediaError> {
    let (_, picture) = decode(bytes)?;
    let side = picture.width().min(picture.height());
    let square = picture.crop_imm((picture.width() - side) / 2, (picture.height() - side) / 2, side, side);
    let square = if side > PROFILE_SIDE {
        square.resize_exact(PROFILE_SIDE, PROFILE_SIDE, FilterType::Lanczos3)
    } else {
        square
    };
    to_jpeg(&square, 85)
}

/// The small JPEG preview of a picture.
pub fn thumbnail(picture: &DynamicImage) -> Result<Bytes, MediaError> {
    to_jpeg(&picture.thumbnail(THUMBNAIL_SIDE, THUMBNAIL_SIDE), 60)
}

/// JPEG has no transparency: transparent parts become white, as chat apps show them,
/// rather than the black that dropping the alpha channel would leave.
fn to_jpeg(picture: &DynamicImage, quality: u8) -> Result<Bytes, MediaError> {
    let rgb = if picture.color().has_alpha() {
        let rgba = picture.to_rgba8();
        let mut flat = image::RgbImage::new(rgba.width(), rgba.height());
        for (out, px) in flat.pixels_mut().zip(rgba.pixels()) {
            let [r, g, b, a] = px.0;
            let over_white = |c: u8| ((u16::from(c) * u16::from(a) + 255 * (255 - u16::from(a))) / 255) as u8;
            *out = image::Rgb([over_white(r), over_white(g), over_white(b)]);
        }
        flat
    } else {
        picture.to_rgb8()
    };
    let mut jpeg = Vec::new();
    JpegEncoder::new_with_quality(&mut jpeg, quality.clamp(1, 100))
        .encode_image(&rgb)
        .map_err(|e| MediaError::Internal(anyhow::Error::new(e).context("encode JPEG")))?;
    Ok(Bytes::from(jpeg))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_profile_picture_is_the_centred_square_as_a_jpeg_of_at_most_640() {
        let wide = profile_picture(&png(1600, 900)).unwrap();
        let (format, picture) = decode(&wide).unwrap();
        assert_eq!((format, picture.width(), picture.height()), (ImageFormat::Jpeg, 640, 640));
        let small = profile_picture(&png(300, 200)).unwrap();
        let (_, picture) = decode(&small).unwrap();
        assert_eq!((picture.width(), picture.height()), (200, 200), "not enlarged");
        assert!(profile_picture(b"not a picture").is_err());
    }

    /// A PNG of `width`×`height` with a gradient and a transparent corner.
    pub fn png(width: u32, height: u32) -> Bytes {
        let picture = RgbaImage::from_fn(width, height, |x, y| {
            let alpha = if x < width / 4 && y < height / 4 { 0 } else { 255 };
            Rgba([(x % 256) as u8, (y % 256) as u8, 128, alpha])
        });
        let mut out = Cursor::new(Vec::new());
        picture.write_to(&mut out, ImageFormat::Png).expect("encode PNG");
        Bytes::from(out.into_inner())
    }

    #[test]
    fn a_large_png_becomes_a_jpeg_of_at_most_the_max_side() {
        let policy = ImagePolicy::default();

        let picture = prepare(png(2000, 1000), &policy).unwrap();

        assert_eq!(picture.mimetype, "image/jpeg");
        assert_eq!((picture.width, picture.height), (1280, 640));
        let (format, decoded) = decode(&picture.bytes).unwrap();
        assert_eq!((format, decoded.width(), decoded.height()), (ImageFormat::Jpeg, 1280, 640));
        let (_, thumb) = decode(picture.thumbnail.as_ref().expect("a thumbnail")).unwrap();
        assert_eq!((thumb.width(), thumb.height()), (72, 36));
    }

    #[test]
    fn a_small_picture_keeps_its_size() {
        let picture = prepare(png(300, 200), &ImagePolicy::default()).unwrap();
        assert_eq!((picture.width, picture.height), (300, 200));
    }

    #[test]
    fn without_reencoding_the_bytes_stay_as_they_are() {
        let original = png(300, 200);
        let policy = ImagePolicy { reencode: false, ..ImagePolicy::default() };

        let picture = prepare(original.clone(), &policy).unwrap();

        assert_eq!((picture.mimetype, &picture.bytes), ("image/png", &original));
    }

    #[test]
    fn a_sticker_is_a_512_square_webp_with_transparent_padding() {
        let sticker = sticker(&png(400, 100)).unwrap();

        assert_eq!(sticker.mimetype, "image/webp");
        let (format, decoded) = decode(&sticker.bytes).unwrap();
        assert_eq!((format, decoded.width(), decoded.height()), (ImageFormat::WebP, 512, 512));
        let rgba = decoded.to_rgba8();
        assert_eq!(rgba.get_pixel(256, 0).0[3], 0, "padding above the wide picture is transparent");
        assert_eq!(rgba.get_pixel(256, 256).0[3], 255, "the picture itself is opaque in the middle");
    }

    #[test]
    fn what_is_not_a_picture_is_invalid() {
        for bytes in [&b"%PDF-1.7 not a picture"[..], &[0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0][..]] {
            match decode(bytes) {
                Err(MediaError::Invalid(why)) => assert!(!why.is_empty()),
                Err(other) => panic!("expected Invalid, got {other:?}"),
                Ok(_) => panic!("decoded garbage"),
            }
        }
    }
}
