//! The seed's image example: decode → resize → encode in an isolate, pixels moving by transfer.
//! Images are Netpbm PAM (RGBA), a real format simple enough to need no image crate.

use serde::{Deserialize, Serialize};
use wasm_isolates::TransferBuffer;

#[derive(Debug, Clone, PartialEq)]
pub struct Rgba {
    pub width: u32,
    pub height: u32,
    pub pixels: Vec<u8>,
}

pub fn encode_pam(img: &Rgba) -> Vec<u8> {
    let mut out = format!(
        "P7\nWIDTH {}\nHEIGHT {}\nDEPTH 4\nMAXVAL 255\nTUPLTYPE RGB_ALPHA\nENDHDR\n",
        img.width, img.height
    )
    .into_bytes();
    out.extend_from_slice(&img.pixels);
    out
}

pub fn decode_pam(bytes: &[u8]) -> Result<Rgba, String> {
    let end = bytes
        .windows(7)
        .position(|w| w == b"ENDHDR\n")
        .ok_or("no ENDHDR")?;
    let header = std::str::from_utf8(&bytes[..end]).map_err(|e| e.to_string())?;
    let field = |name: &str| -> Result<u32, String> {
        header
            .lines()
            .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
            .ok_or(format!("missing {name}"))
    };
    let (width, height) = (field("WIDTH")?, field("HEIGHT")?);
    let pixels = bytes[end + 7..].to_vec();
    if pixels.len() != (width * height * 4) as usize {
        return Err(format!(
            "{} bytes of pixels for {width}x{height}",
            pixels.len()
        ));
    }
    Ok(Rgba {
        width,
        height,
        pixels,
    })
}

/// Box-filter downscale (or nearest upscale) of RGBA pixels.
pub fn resize(img: &Rgba, width: u32, height: u32) -> Rgba {
    let mut pixels = Vec::with_capacity((width * height * 4) as usize);
    for y in 0..height {
        let (y0, y1) = (
            y * img.height / height,
            ((y + 1) * img.height / height).max(y * img.height / height + 1),
        );
        for x in 0..width {
            let (x0, x1) = (
                x * img.width / width,
                ((x + 1) * img.width / width).max(x * img.width / width + 1),
            );
            let mut acc = [0u32; 4];
            for sy in y0..y1.min(img.height) {
                for sx in x0..x1.min(img.width) {
                    let i = ((sy * img.width + sx) * 4) as usize;
                    for (a, &p) in acc.iter_mut().zip(&img.pixels[i..i + 4]) {
                        *a += p as u32;
                    }
                }
            }
            let n = (y1.min(img.height) - y0) * (x1.min(img.width) - x0);
            pixels.extend(acc.iter().map(|&a| (a / n.max(1)) as u8));
        }
    }
    Rgba {
        width,
        height,
        pixels,
    }
}

#[derive(Serialize, Deserialize)]
pub struct ResizeRequest {
    pub pam: TransferBuffer<u8>,
    pub width: u32,
    pub height: u32,
}

/// The isolate task: the encoded image arrives by transfer and leaves by transfer.
pub fn resize_task(req: ResizeRequest) -> Result<TransferBuffer<u8>, String> {
    let img = decode_pam(&req.pam.to_vec())?;
    Ok(TransferBuffer::from_slice(&encode_pam(&resize(
        &img, req.width, req.height,
    ))))
}

pub fn gradient(width: u32, height: u32) -> Rgba {
    let mut pixels = Vec::new();
    for y in 0..height {
        for x in 0..width {
            pixels.extend_from_slice(&[
                (x * 255 / width) as u8,
                (y * 255 / height) as u8,
                128,
                255,
            ]);
        }
    }
    Rgba {
        width,
        height,
        pixels,
    }
}
