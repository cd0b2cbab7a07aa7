//! The record splitter against the `csv` crate on random input; the header and cells.

use super::records::next_low;
use super::*;
use proptest::prelude::*;

/// Hands out its bytes at most `step` at a time, to split records across refills.
struct Chunked<'a> {
    data: &'a [u8],
    step: usize,
}

impl io::Read for Chunked<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.step.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

/// Each record as `line [fields]`, or the error, as the `csv` crate's reader gives them
/// (configured as `CsvIn` used to configure it).
fn by_csv_crate(input: &[u8], step: usize) -> Vec<String> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(Chunked { data: input, step });
    let mut rec = csv::StringRecord::new();
    let mut out = Vec::new();
    loop {
        match rdr.read_record(&mut rec) {
            Ok(false) => return out,
            Ok(true) => out.push(format!(
                "{} {:?}",
                rec.position().map_or(0, csv::Position::line),
                rec.iter().collect::<Vec<_>>()
            )),
            Err(e) => out.push(SimError::from_csv("f.csv", e).to_string()),
        }
    }
}

/// The same from [`RecordReader`] and [`decode`].
fn by_record_reader(input: &[u8], step: usize) -> Vec<String> {
    let mut rdr = RecordReader::new(Chunked { data: input, step });
    let (mut raw, mut spans) = (Vec::new(), Vec::new());
    let mut out = Vec::new();
    loop {
        let line = rdr.line;
        match rdr.read_record(&mut raw, &mut spans) {
            Ok(false) => return out,
            Ok(true) => match decode(mem::take(&mut raw), &spans) {
                Ok(text) => {
                    let fields: Vec<&str> = spans.iter().map(|&(a, b)| &text[a..b]).collect();
                    out.push(format!("{line} {fields:?}"));
                }
                Err(field) => out.push(format!("f.csv:{line}: {}", utf8_reason(field))),
            },
            Err(e) => out.push(e.to_string()),
        }
    }
}

fn same_as_csv_crate(input: &[u8]) {
    for step in [1, 2, 3, 5, 1 << 16] {
        assert_eq!(
            by_record_reader(input, step),
            by_csv_crate(input, step),
            "{:?} read {step} bytes at a time",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn splits_records_as_the_csv_crate() {
    for input in [
        &b""[..],
        b"\n\n",
        b"a,b\n1,2\n",
        b"a,b\r\n1,2\r\n\r\n3,4",
        b"a,b\r1,2\r3\n",
        b"\xef\xbb\xbfa,b\n",
        b"\xef\xbb\xbf",
        b"x,\xef\xbb\xbfa\n",
        b"\"a,\"\"b\"\"\",c\n\"multi\nline\",d\n\"e\"f,\"g\"\"\n",
        b"\"unterminated\n,x",
        b"a\"b,c\"\n",
        b",,\n,\n",
        b" a , b \n",
        b"ok,\xc3\xa9\nbad,\xc3\n\xff,x\n\xc3,\xa9\n",
        b"c1,\"8,1\",x\n\"a\",b\r\n\"a\"b,c\n\"a\"\"b\",c\nx,\"\"\n\"\",\n\"\xc3\",\"\xa9\"\n",
        b"\"a\nb\",c\n\"a\rb\",c\r\"last\"",
        b"c0000216,2026-03-02T08:00:00.320+01:00,+4685080000,+4682321976,\"8,1\",171.9,83.3,\
          10.3,english:hanvisning,false,true\nc0000217,2026-03-02T08:00:00.320+01:00,\
          +4685080000,,,171.9,83.3,,\"english: h\xc3\xa4nvisning\"\r\nc2,x,\"\"\"\",\n",
    ] {
        same_as_csv_crate(input);
    }
}

proptest! {
    #[test]
    fn splits_random_bytes_as_the_csv_crate(
        parts in prop::collection::vec(
            prop::sample::select(vec![
                &b"a"[..], b"bc", b",", b"\"", b"\r", b"\n", b"\r\n", b" ", b"\xc3\xa9",
                b"\xc3", b"\xa9", b"\xff", b"\xef\xbb\xbf", b"\xe2\x80\x83",
            ]),
            0..40,
        )
    ) {
        same_as_csv_crate(&parts.concat());
    }
}

#[test]
fn next_low_finds_the_first_byte_up_to_a_comma() {
    let bytes: Vec<u8> = (0..=255).collect();
    for from in 0..bytes.len() {
        for len in from..bytes.len().min(from + 20) {
            let mut input = bytes[from..=len].to_vec();
            input.reverse();
            let want = input.iter().position(|&b| b <= b',');
            assert_eq!(next_low(&input, 0), want, "{input:?}");
        }
    }
    assert_eq!(next_low(b"abcdefghijkl,", 3), Some(12));
    assert_eq!(next_low(b"abc", 4), None);
}

#[test]
fn trim_is_str_trim() {
    for s in [
        "",
        " ",
        "a",
        " a",
        "a ",
        "\ta\r",
        "\u{b}a",
        "a\u{b}",
        "\u{a0}a",
        "a\u{2003}",
        "é",
        "\u{85}",
        "x y",
        "~",
        "\u{7f}",
    ] {
        assert_eq!(trim(s), s.trim(), "{s:?}");
    }
}

/// Cells of the rows `text` holds after its header, or the first error.
fn rows(text: &[u8]) -> Result<Vec<Vec<String>>, String> {
    let mut csv = CsvIn::new(text, "f.csv".into()).map_err(|e| e.to_string())?;
    let n = csv.header.len();
    let mut out = Vec::new();
    while let Some(r) = csv.next_record() {
        r.map_err(|e| e.to_string())?;
        out.push((0..n).map(|i| csv.cell(Some(i)).to_owned()).collect());
    }
    Ok(out)
}

#[test]
fn rows_errors_and_cells() {
    let text = b"\xef\xbb\xbfa,b\r\n\"x,1\",\r\n,\"\"\r\n";
    let csv = CsvIn::new(&text[..], "f.csv".into()).unwrap();
    assert_eq!(
        csv.column("a"),
        Some(0),
        "the byte order mark is not in the name"
    );
    assert_eq!(
        rows(text),
        Ok(vec![
            vec!["x,1".into(), String::new()],
            vec![String::new(); 2]
        ])
    );
    assert_eq!(
        rows(b"a,b\n1,2\n\xc3\xa9,\xff\n"),
        Err("f.csv:3: field 2 is not valid UTF-8".into())
    );
    // As the `csv` crate counted: the `\n` of a `\r\n` is read with the next row.
    assert_eq!(
        rows(b"a,b\r\n1,2\r\n1,2,3\r\n"),
        Err("f.csv:2: 3 fields, but the header has 2".into())
    );
    assert_eq!(
        rows(b"a,\xff\n"),
        Err("f.csv:1: field 2 is not valid UTF-8".into())
    );
    assert_eq!(
        rows(b"\n\n").map(|_| ()),
        Err("f.csv:1: no header line (the file is empty)".into())
    );
}

#[test]
fn an_io_error_ends_the_rows() {
    struct Failing(bool);
    impl io::Read for Failing {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if mem::replace(&mut self.0, true) {
                return Err(io::Error::other("disk on fire"));
            }
            buf[..8].copy_from_slice(b"a,b\n1,2\n");
            Ok(8)
        }
    }
    let mut csv = CsvIn::new(Failing(false), "f.csv".into()).unwrap();
    assert!(matches!(csv.next_record(), Some(Ok(()))));
    assert_eq!(csv.cell(Some(1)), "2");
    let e = csv.next_record().unwrap().unwrap_err();
    assert_eq!(e.to_string(), "f.csv: disk on fire");
    assert!(csv.next_record().is_none());
}
