//! Arbitrary bytes through the framer (in chunks whose size the first byte picks) and both
//! decoders. Nothing may panic, and whatever decodes must encode back to the same message.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vaxel_proto::{
    Framer, PlatformMessage, decode_platform, decode_platform_str, decode_server,
    encode_platform, encode_server,
};

fuzz_target!(|data: &[u8]| {
    let Some((&first, data)) = data.split_first() else {
        return;
    };
    // A small limit so that over-long lines are reached often.
    let mut framer = Framer::with_max_line(512);
    for piece in data.chunks(usize::from(first) + 1) {
        framer.push(piece);
        assert!(framer.buffered() <= framer.max_line() + 1 + piece.len());
        while let Some(item) = framer.next_line() {
            if let Ok(line) = item {
                check(line.text);
            }
        }
    }
    if let Some(Ok(line)) = framer.finish() {
        check(line.text);
    }
    // The whole input as one line, unchecked UTF-8 included.
    let _ = decode_platform(data);
    let _ = decode_server(data);
});

fn check(text: &str) {
    if let Ok(m) = decode_platform_str(text) {
        let mut buf = Vec::new();
        encode_platform(&m, &mut buf);
        assert_eq!(buf.pop(), Some(b'\n'));
        assert_eq!(
            decode_platform(&buf).map(without_attrs),
            Ok(without_attrs(m))
        );
    }
    if let Ok(m) = decode_server(text.as_bytes()) {
        let mut buf = Vec::new();
        encode_server(&m, &mut buf);
        assert_eq!(buf.pop(), Some(b'\n'));
        assert_eq!(decode_server(&buf), Ok(m));
    }
}

/// `attrs` floats may be read 1 ULP off by serde_json's default float parser, so they
/// are not compared bit for bit.
fn without_attrs(mut m: PlatformMessage) -> PlatformMessage {
    if let Some(attrs) = &mut m.attrs {
        *attrs = Default::default();
    }
    m
}
