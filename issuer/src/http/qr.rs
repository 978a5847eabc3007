//! QR rendering of a code: SVG for web pages, PNG for apps. Error-correction level M, which
//! keeps a normal token at version 6.

use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};

fn symbol(code: &str) -> Result<QrCode, qrcode::types::QrError> {
    QrCode::with_error_correction_level(code.as_bytes(), EcLevel::M)
}

/// An SVG document of the code, at least `size` pixels wide.
///
/// # Errors
///
/// If the text does not fit a QR code (never for a token).
pub fn svg(code: &str, size: u32) -> Result<String, qrcode::types::QrError> {
    Ok(symbol(code)?
        .render::<svg::Color<'_>>()
        .min_dimensions(size, size)
        .quiet_zone(true)
        .build())
}

/// A PNG image of the code, at least `size` pixels wide.
///
/// # Errors
///
/// If the text does not fit, or PNG encoding fails.
pub fn png(code: &str, size: u32) -> Result<Vec<u8>, String> {
    let image = symbol(code)
        .map_err(|e| e.to_string())?
        .render::<image::Luma<u8>>()
        .min_dimensions(size, size)
        .quiet_zone(true)
        .build();
    let mut out = std::io::Cursor::new(Vec::new());
    image
        .write_to(&mut out, image::ImageFormat::Png)
        .map_err(|e| e.to_string())?;
    Ok(out.into_inner())
}
