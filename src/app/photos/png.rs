//! PNG metadata removal: the image's chunks are kept as they are (nothing is re-encoded), the
//! metadata chunks are dropped.
//!
//! A PNG is an 8-byte signature and chunks of `length (4, big-endian) · type (4) · data · CRC
//! (4)`. Kept: every critical chunk (type starting with an upper-case letter: `IHDR`, `PLTE`,
//! `IDAT`, `IEND`, …) and the ancillary chunks that change how the pixels look (transparency,
//! colour space, gamma, pixel size, background). Dropped: every other ancillary chunk, among
//! them `tEXt`, `zTXt`, `iTXt` (free text: author, software, comments, GPS written as text),
//! `eXIf` (EXIF, with camera and position), `tIME` (when it was last edited) and private
//! chunks; and anything after `IEND`.

/// The PNG signature.
pub const SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];

/// Ancillary chunks kept because they change the rendering, not because they describe it.
const RENDERING: [&[u8; 4]; 9] = [
    b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"iCCP", b"sBIT", b"cICP", b"bKGD", b"pHYs",
];

fn kept(chunk_type: &[u8]) -> bool {
    chunk_type[0].is_ascii_uppercase() || RENDERING.iter().any(|t| t[..] == *chunk_type)
}

/// Removes the metadata chunks of a PNG (see the module docs). Input that is not a
/// well-formed chunk sequence ending in `IEND` is returned as is.
pub fn strip_png_metadata(png: &[u8]) -> Vec<u8> {
    if !png.starts_with(&SIGNATURE) {
        return png.to_vec();
    }
    let mut out = Vec::with_capacity(png.len());
    out.extend_from_slice(&SIGNATURE);
    let mut i = SIGNATURE.len();
    while i + 12 <= png.len() {
        let len = u32::from_be_bytes([png[i], png[i + 1], png[i + 2], png[i + 3]]) as usize;
        let Some(end) = len.checked_add(i + 12).filter(|&end| end <= png.len()) else {
            return png.to_vec();
        };
        let chunk_type = &png[i + 4..i + 8];
        if !chunk_type.iter().all(u8::is_ascii_alphabetic) {
            return png.to_vec();
        }
        if kept(chunk_type) {
            out.extend_from_slice(&png[i..end]);
        }
        if chunk_type == b"IEND" {
            return out;
        }
        i = end;
    }
    png.to_vec()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    fn chunk(chunk_type: &[u8; 4], data: &[u8]) -> Vec<u8> {
        let mut c = (data.len() as u32).to_be_bytes().to_vec();
        c.extend_from_slice(chunk_type);
        c.extend_from_slice(data);
        c.extend_from_slice(&[0, 0, 0, 0]); // the CRC is copied, never checked
        c
    }

    /// A 1×1 PNG carrying every kind of metadata chunk, between and after its image chunks.
    pub(crate) fn png_with_metadata() -> Vec<u8> {
        let mut p = SIGNATURE.to_vec();
        p.extend(chunk(b"IHDR", &[0, 0, 0, 1, 0, 0, 0, 1, 8, 2, 0, 0, 0]));
        p.extend(chunk(b"tIME", &[0x07, 0xE6, 5, 20, 10, 0, 0]));
        p.extend(chunk(b"tEXt", b"Author\0Wang Jianguo"));
        p.extend(chunk(b"zTXt", b"Comment\0\0x\x9c"));
        p.extend(chunk(b"iTXt", b"GPS\0\0\0\0\x0039.9N 116.4E"));
        p.extend(chunk(b"eXIf", b"MM\0*Canon"));
        p.extend(chunk(b"sRGB", &[0]));
        p.extend(chunk(
            b"IDAT",
            &[0x78, 0x9C, 0x63, 0xF8, 0x0F, 0x00, 0x01, 0x01, 0x01, 0x00],
        ));
        p.extend(chunk(b"prVt", b"private"));
        p.extend(chunk(b"IEND", &[]));
        p.extend_from_slice(b"trailing secret");
        p
    }

    fn chunk_types(png: &[u8]) -> Vec<String> {
        let mut types = vec![];
        let mut i = 8;
        while i + 12 <= png.len() {
            let len = u32::from_be_bytes(png[i..i + 4].try_into().unwrap()) as usize;
            types.push(String::from_utf8_lossy(&png[i + 4..i + 8]).into_owned());
            i += 12 + len;
        }
        types
    }

    #[test]
    fn metadata_chunks_and_trailing_bytes_are_removed_and_the_image_chunks_kept_as_they_are() {
        let png = png_with_metadata();
        let stripped = strip_png_metadata(&png);
        assert_eq!(chunk_types(&stripped), ["IHDR", "sRGB", "IDAT", "IEND"]);
        assert!(stripped.starts_with(&SIGNATURE));
        assert!(stripped.ends_with(b"IEND\0\0\0\0"));
        let idat = chunk(
            b"IDAT",
            &[0x78, 0x9C, 0x63, 0xF8, 0x0F, 0x00, 0x01, 0x01, 0x01, 0x00],
        );
        assert!(stripped.windows(idat.len()).any(|w| w == idat));
        assert_eq!(
            strip_png_metadata(&stripped),
            stripped,
            "nothing more to strip"
        );
    }

    #[test]
    fn a_malformed_png_is_returned_as_is() {
        let mut truncated = png_with_metadata();
        truncated.truncate(40);
        assert_eq!(strip_png_metadata(&truncated), truncated);
        let mut no_end = SIGNATURE.to_vec();
        no_end.extend(chunk(b"IHDR", &[0; 13]));
        assert_eq!(strip_png_metadata(&no_end), no_end);
    }

    proptest! {
        #[test]
        fn stripping_never_panics_and_never_grows(
            tail in proptest::collection::vec(any::<u8>(), 0..300)
        ) {
            let mut bytes = SIGNATURE.to_vec();
            bytes.extend(tail);
            let out = strip_png_metadata(&bytes);
            prop_assert!(out.starts_with(&SIGNATURE));
            prop_assert!(out.len() <= bytes.len());
        }
    }
}
