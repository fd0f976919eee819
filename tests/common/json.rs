//! The JSON service: every input, every query, columns, malformed and hostile input.

use wasm_bindgen::JsCast;
use wasm_isolates::json::{
    parse_columns, parse_columns_in_parts, Column, Columns, JsonDocument, JsonSource,
};
use wasm_isolates::{IsolateError, TransferBuffer};

const SAMPLE: &str = r#"[
 {"id":1,"name":"a","lat":48.5,"ok":true,"loc":{"x":1.5}},
 {"id":2,"name":"béta","lat":49.25,"ok":false,"loc":{"x":2.5}},
 {"id":3,"lat":null,"extra":[1,2]}
]"#;

fn bytes(text: &str) -> TransferBuffer<u8> {
    TransferBuffer::from_slice(text.as_bytes())
}

pub async fn json_queries_match_json_parse() {
    let doc = JsonDocument::parse_bytes(bytes(SAMPLE)).await.unwrap();
    assert_eq!(doc.info().kind, "array");
    assert_eq!(doc.info().len, 3);
    assert_eq!(doc.info().byte_length, SAMPLE.len() as u64);
    let expected: serde_json::Value = serde_json::from_str(SAMPLE).unwrap();
    assert_eq!(doc.len("").await.unwrap(), 3);
    assert_eq!(doc.len("/0").await.unwrap(), 5);
    assert_eq!(doc.get("/1/name").await.unwrap(), "béta");
    assert_eq!(doc.get("").await.unwrap(), expected);
    let page = doc.slice("", 1, 99).await.unwrap();
    assert_eq!(page, expected.as_array().unwrap()[1..].to_vec());
    let text = doc.slice_text("", 0, 2).await.unwrap();
    let parsed = js_sys::JSON::parse(&String::from_utf8(text.to_vec()).unwrap()).unwrap();
    assert_eq!(js_sys::Array::from(&parsed).length(), 2);

    let cols = doc
        .select("", &["lat", "name", "ok", "loc/x", "nothing"])
        .await
        .unwrap();
    assert_eq!(cols.len, 3);
    match &cols.columns[0] {
        Column::Number(lat) => {
            let v = lat.to_vec();
            assert_eq!(&v[..2], &[48.5, 49.25]);
            assert!(v[2].is_nan(), "null is NaN");
        }
        other => panic!("lat: {other:?}"),
    }
    match &cols.columns[1] {
        Column::Text { utf8, offsets } => {
            let (utf8, offsets) = (utf8.to_vec(), offsets.to_vec());
            assert_eq!(offsets, vec![0, 1, 6, 6]);
            assert_eq!(std::str::from_utf8(&utf8[1..6]).unwrap(), "béta");
        }
        other => panic!("name: {other:?}"),
    }
    match &cols.columns[2] {
        Column::Bool(ok) => assert_eq!(ok.to_vec(), vec![1, 0, 2]),
        other => panic!("ok: {other:?}"),
    }
    match &cols.columns[3] {
        Column::Number(x) => assert_eq!(x.to_vec()[..2], [1.5, 2.5]),
        other => panic!("loc/x: {other:?}"),
    }
    assert!(matches!(cols.columns[4], Column::Missing));
    // A query for something that is not there is a typed error; the document stays usable.
    match doc.get("/7/name").await {
        Err(IsolateError::Json {
            message,
            offset: None,
            ..
        }) => assert!(message.contains("/7/name")),
        other => panic!("expected Json error, got {other:?}"),
    }
    assert!(matches!(
        doc.select("/0", &["x"]).await,
        Err(IsolateError::Json { .. })
    ));
    assert_eq!(doc.len("").await.unwrap(), 3);

    // As JSON.parse counts: a repeated key once (its last value wins in get and select), a
    // string's length in UTF-16 units.
    let text = r#"{"k":1,"s":"é😀","k":{"x":2},"\u006b":3,"r":[{"v":1,"v":"two"}]}"#;
    let doc = JsonDocument::parse_bytes(bytes(text)).await.unwrap();
    assert_eq!(doc.info().len, 3, "k, s, r");
    assert_eq!(doc.len("").await.unwrap(), 3);
    assert_eq!(doc.len("/r/0").await.unwrap(), 1);
    assert_eq!(doc.len("/s").await.unwrap(), 3, "é is one unit, 😀 two");
    assert_eq!(doc.get("/k").await.unwrap(), 3);
    assert_eq!(doc.scalar_keys("").await.unwrap(), vec!["k", "s"]);
    let cols = doc.select("/r", &["v"]).await.unwrap();
    assert!(
        matches!(&cols.columns[0], Column::Text { .. }),
        "the last v is a string"
    );
}

/// The columns as comparable values (`None` for NaN, strings decoded).
fn column_values(cols: &Columns) -> Vec<Vec<serde_json::Value>> {
    use serde_json::Value;
    let number = |x: f64| if x.is_nan() { Value::Null } else { x.into() };
    cols.columns
        .iter()
        .map(|c| match c {
            Column::Number(v) => v.to_vec().into_iter().map(number).collect(),
            Column::Bool(v) => v.to_vec().into_iter().map(Value::from).collect(),
            Column::Text { utf8, offsets } => {
                let (utf8, offsets) = (utf8.to_vec(), offsets.to_vec());
                offsets
                    .windows(2)
                    .map(|w| String::from_utf8_lossy(&utf8[w[0] as usize..w[1] as usize]).into())
                    .collect()
            }
            _ => vec![Value::from("missing")],
        })
        .collect()
}

/// `parse_columns` (fields picked out while parsing, no document kept) gives what `select` gives
/// on the parsed document, from every source; errors are typed and the service keeps working.
pub async fn json_parse_columns_equals_select() {
    let fields = ["lat", "name", "ok", "loc/x", "nothing", "/id"];
    let doc = JsonDocument::parse_bytes(bytes(SAMPLE)).await.unwrap();
    let expected = doc.select("", &fields).await.unwrap();
    let from_bytes = parse_columns(JsonSource::Bytes(bytes(SAMPLE)), &fields)
        .await
        .unwrap();
    assert_eq!(from_bytes.len, 3);
    assert_eq!(from_bytes.fields, expected.fields);
    assert_eq!(column_values(&from_bytes), column_values(&expected));
    let js: js_sys::JsString = wasm_bindgen::JsValue::from_str(SAMPLE).unchecked_into();
    let from_text = parse_columns(JsonSource::Text(js), &fields).await.unwrap();
    assert_eq!(column_values(&from_text), column_values(&expected));
    let from_blob = parse_columns(JsonSource::Blob(blob_of(SAMPLE)), &fields)
        .await
        .unwrap();
    assert_eq!(column_values(&from_blob), column_values(&expected));

    match parse_columns(JsonSource::Bytes(bytes("[{\"lat\":1},\n x]")), &fields).await {
        Err(IsolateError::Json { line, column, .. }) => {
            assert_eq!((line, column), (Some(2), Some(2)))
        }
        other => panic!("expected Json error, got {other:?}"),
    }
    match parse_columns(JsonSource::Bytes(bytes(r#"{"lat":1}"#)), &fields).await {
        Err(IsolateError::Json { message, .. }) => assert!(message.contains("not an array")),
        other => panic!("expected Json error, got {other:?}"),
    }
    let after = parse_columns(JsonSource::Bytes(bytes("[{\"lat\":2}]")), &["lat"])
        .await
        .unwrap();
    assert_eq!(
        column_values(&after),
        vec![vec![serde_json::Value::from(2.0)]]
    );
    // The document parsed first is untouched by the column runs in other isolates.
    assert_eq!(doc.len("").await.unwrap(), 3);
}

/// A document of about `mb` MB: records with nested records that start like top-level ones,
/// commas and record-like text inside strings, and a field whose first values are all `null`.
fn records_text(mb: usize, kids: usize) -> String {
    let mut text = String::with_capacity(mb << 20);
    text.push('[');
    let mut i = 0u64;
    while text.len() < mb << 20 {
        if i > 0 {
            text.push(',');
        }
        let kids: Vec<String> = (0..kids).map(|k| format!(r#"{{"id":{k}}}"#)).collect();
        // `null` in the first 60 %: part 0 has no type for it yet, the next part sets it.
        let late = if text.len() < (mb << 20) * 3 / 5 {
            "null".to_string()
        } else {
            format!("{}", i % 2 == 0)
        };
        text.push_str(&format!(
            r#"{{"id":{i},"v":{}.{},"s":"r{i},{{\"id\":{i}}}","late":{late},"kids":[{}]}}"#,
            i % 997,
            i % 89,
            kids.join(",")
        ));
        i += 1;
    }
    text.push(']');
    text
}

/// `parse_columns_in_parts` gives exactly what one isolate gives: when the cuts hold, when a
/// guess lands inside a record (the whole text is read again), and on malformed input (the same
/// error at the same place).
pub async fn json_parse_columns_in_parts_equals_one_isolate() {
    let fields = ["id", "v", "s", "late", "kids/1/id"];
    let text = records_text(9, 2);
    let one = parse_columns_in_parts(JsonSource::Bytes(bytes(&text)), &fields, 1)
        .await
        .unwrap();
    assert_eq!(one.parts, 1);
    for parts in [2, 3] {
        let cut = parse_columns_in_parts(JsonSource::Bytes(bytes(&text)), &fields, parts)
            .await
            .unwrap();
        // 9 MB makes two parts of at least 4 MiB, not three.
        assert_eq!(cut.parts, 2, "asked for {parts}");
        assert_eq!(cut.len, one.len);
        assert_eq!(column_values(&cut), column_values(&one));
    }
    // Records made mostly of nested records, many in a row: the guess lands inside one (where
    // the middle of this text falls), part 0 does not parse, and the first isolate reads the
    // whole text — same columns, one part.
    let nested = records_text(9, 200);
    let nested_one = parse_columns_in_parts(JsonSource::Bytes(bytes(&nested)), &fields, 1)
        .await
        .unwrap();
    let cut = parse_columns_in_parts(JsonSource::Bytes(bytes(&nested)), &fields, 2)
        .await
        .unwrap();
    assert_eq!(cut.parts, 1, "a cut inside a record must not be used");
    assert_eq!(column_values(&cut), column_values(&nested_one));
    // Malformed in the second half: the error one isolate reports, at the same place.
    let mut broken = text.clone();
    let at = broken.len() * 3 / 4;
    let at = at + broken[at..].find("\"v\":").unwrap() + 4;
    broken.replace_range(at..at + 1, "x");
    let error = |r: Result<Columns, IsolateError>| match r {
        Err(IsolateError::Json {
            message,
            offset,
            line,
            column,
        }) => (message, offset, line, column),
        other => panic!("expected a Json error, got {other:?}"),
    };
    let whole = error(parse_columns_in_parts(JsonSource::Bytes(bytes(&broken)), &fields, 1).await);
    let cut = error(parse_columns_in_parts(JsonSource::Bytes(bytes(&broken)), &fields, 2).await);
    assert_eq!(whole.1, Some(at as u64));
    assert_eq!(cut, whole);
    // And the service goes on.
    let after = parse_columns_in_parts(JsonSource::Bytes(bytes(&text)), &["id"], 2)
        .await
        .unwrap();
    assert_eq!((after.len, after.parts), (one.len, 2));
}

pub async fn json_malformed_reports_where() {
    let text = "[1,\n 2,\n x]";
    match JsonDocument::parse_bytes(bytes(text)).await {
        Err(IsolateError::Json {
            offset,
            line,
            column,
            ..
        }) => {
            assert_eq!((line, column), (Some(3), Some(2)));
            assert_eq!(offset, Some(9));
            assert_eq!(&text[9..10], "x");
        }
        other => panic!("expected Json error, got {other:?}"),
    }
    // Hostile nesting: deep but valid parses (no recursion, so no stack overflow); unclosed is
    // an error at the end of the input.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let doc = JsonDocument::parse_bytes(bytes(&deep)).await.unwrap();
    assert_eq!(doc.len("/0/0/0").await.unwrap(), 1);
    match JsonDocument::parse_bytes(bytes(&"[".repeat(100_000))).await {
        Err(IsolateError::Json {
            message, offset, ..
        }) => {
            assert!(message.contains("end of input"), "{message}");
            assert_eq!(offset, Some(100_000));
        }
        other => panic!("expected Json error, got {other:?}"),
    }
    assert!(JsonDocument::parse_bytes(bytes("[1]")).await.is_ok());

    // A UTF-8 byte order mark before bytes (and a Blob, and a URL) is skipped, as TextDecoder and
    // Response.json() skip it; error offsets still count it (they are offsets into the bytes).
    let with_bom = |s: &str| {
        let mut b = b"\xEF\xBB\xBF".to_vec();
        b.extend_from_slice(s.as_bytes());
        TransferBuffer::from_slice(&b)
    };
    let doc = JsonDocument::parse_bytes(with_bom("[1,2]")).await.unwrap();
    assert_eq!(doc.len("").await.unwrap(), 2);
    match JsonDocument::parse_bytes(with_bom("[1,\n x]")).await {
        Err(IsolateError::Json {
            offset,
            line,
            column,
            ..
        }) => assert_eq!((offset, line, column), (Some(8), Some(2), Some(2))),
        other => panic!("expected Json error, got {other:?}"),
    }
    let blob = web_sys::Blob::new_with_u8_array_sequence(&js_sys::Array::of1(
        &with_bom("{\"a\":1}").view(),
    ))
    .unwrap();
    let doc = JsonDocument::parse_blob(blob).await.unwrap();
    assert_eq!(doc.get("/a").await.unwrap(), 1);
    // In a JS string U+FEFF is a character, which JSON.parse rejects: so do we, at offset 0.
    let js: js_sys::JsString = wasm_bindgen::JsValue::from_str("\u{FEFF}[1]").unchecked_into();
    match JsonDocument::parse_js_string(&js, |_| {}).await {
        Err(IsolateError::Json { offset, .. }) => assert_eq!(offset, Some(0)),
        other => panic!("expected Json error, got {other:?}"),
    }
    // Invalid UTF-8 in bytes reads as TextDecoder reads it: U+FFFD.
    let doc = JsonDocument::parse_bytes(TransferBuffer::from_slice(b"[\"a\xFFb\"]"))
        .await
        .unwrap();
    assert_eq!(doc.get("/0").await.unwrap(), "a\u{FFFD}b");
}

fn blob_of(text: &str) -> web_sys::Blob {
    let parts = js_sys::Array::of1(&wasm_bindgen::JsValue::from_str(text));
    web_sys::Blob::new_with_str_sequence(&parts).unwrap()
}

#[wasm_bindgen::prelude::wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = URL, js_name = createObjectURL)]
    fn create_object_url(blob: &web_sys::Blob) -> String;
}

pub async fn json_every_input_kind() {
    // A Blob, read in the isolate.
    let doc = JsonDocument::parse_blob(blob_of(SAMPLE)).await.unwrap();
    assert_eq!(doc.len("").await.unwrap(), 3);
    // A URL, fetched by the isolate itself.
    let url = create_object_url(&blob_of(SAMPLE));
    let doc = JsonDocument::fetch(&url).await.unwrap();
    assert_eq!(doc.get("/2/extra/1").await.unwrap(), 2);
    match JsonDocument::fetch("/no/such/file.json").await {
        Err(IsolateError::Json { message, .. }) => assert!(message.contains("404"), "{message}"),
        other => panic!("expected an HTTP error, got {other:?}"),
    }
    // A JS string of several slices (over 1 Mi UTF-16 units), staged in the isolate.
    let big = format!("[{}]", vec!["\"é\""; 600_000].join(","));
    let js: js_sys::JsString = wasm_bindgen::JsValue::from_str(&big).unchecked_into();
    let mut slices = 0;
    let doc = JsonDocument::parse_js_string(&js, |_| slices += 1)
        .await
        .unwrap();
    assert!(slices >= 2, "{slices} slices");
    assert_eq!(doc.len("").await.unwrap(), 600_000);
    assert_eq!(doc.get("/599999").await.unwrap(), "é");
}

/// Dropped documents give their isolate back (as a warm spare, its document freed); parsing
/// many documents one after another does not pile up workers, and no document sees another's data.
pub async fn json_isolates_are_reused_without_leaks() {
    JsonDocument::prewarm().unwrap();
    let before = wasm_isolates::live_workers();
    let mut steady = None;
    for i in 0..10u32 {
        let text = format!("[{i},{{\"n\":{i}}}]");
        let doc = JsonDocument::parse_bytes(bytes(&text)).await.unwrap();
        assert_eq!(doc.get("/1/n").await.unwrap(), i);
        assert_eq!(doc.info().byte_length, text.len() as u64);
        drop(doc);
        // Workers start and stop synchronously with the calls above, so after the first
        // document the count must stay exactly where it is: a document that kept its isolate,
        // or a spare started and never used, would add one every round.
        let now = wasm_isolates::live_workers();
        match steady {
            None => steady = Some(now),
            Some(s) => assert_eq!(now, s, "round {i}: {now} workers, {s} after the first"),
        }
    }
    let after = wasm_isolates::live_workers();
    assert!(
        after <= before + 2,
        "at most two spares are kept: {before} workers before, {after} after"
    );
}

// The parser is crate-private: its source is compiled in here once more, to run both of its
// scans (SIMD with `simd128`, and scalar) on the same inputs in the browser's engine.
#[path = "../../src/json/tape.rs"]
#[allow(dead_code, unused_imports)]
mod tape;

/// The SIMD and scalar scans of the JSON parser give the same nodes and the same errors (message,
/// offset, line, column) in this engine, on the parser's test inputs and on generated ones; and
/// the isolates' parser (this build's scans) reports the scalar parse's positions.
pub async fn json_simd_scans_match_scalar() {
    // With simd128 `Blocks` runs on wasm SIMD; without (this project's builds), on its portable
    // classification: either way it is held to the scalar scans.
    let (valid, invalid) = tape::differential::check_all(0xB20_5E2, 300);
    assert!(
        valid > 300 && invalid > 300,
        "{valid} valid, {invalid} invalid"
    );
    for text in [
        "[1,\n 2,\n x]",
        "{\"a\":\"é😀\\u00e9\",\n  \"b\": [1, 2,, 3]}",
        "[\"abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghij\u{1}\"]",
        "{\"key\"   \n\t   :   \"unterminated",
    ] {
        let expected = tape::differential::scalar_error(text.as_bytes()).expect("malformed");
        match JsonDocument::parse_bytes(bytes(text)).await {
            Err(IsolateError::Json {
                offset: Some(offset),
                line: Some(line),
                column: Some(column),
                ..
            }) => assert_eq!(
                (offset, line, column),
                (expected.offset, expected.line, expected.column),
                "{text:?}"
            ),
            other => panic!("{text:?}: {other:?}"),
        }
    }
}

#[wasm_bindgen::prelude::wasm_bindgen(inline_js = r#"
/**
 * A Response whose body gives `pieces` (strings, UTF-8) one read at a time, then ends as `end`
 * says: 'close', 'error' (the stream errors), or 'hang' (no more pieces, ever). `state.cancelled`
 * turns true when the reader cancels the body, `state.pulled` counts the pieces given.
 */
export function pieceResponse(pieces, end) {
  const state = { cancelled: false, pulled: 0 };
  const encoder = new TextEncoder();
  const stream = new ReadableStream({
    pull(controller) {
      if (state.pulled < pieces.length) {
        controller.enqueue(encoder.encode(pieces[state.pulled++]));
      } else if (end === 'close') {
        controller.close();
      } else if (end === 'error') {
        controller.error(new Error('the body failed on purpose'));
      } else {
        return new Promise(() => {});
      }
    },
    cancel() {
      state.cancelled = true;
    },
  }, { highWaterMark: 0 });
  return [new Response(stream, { headers: { 'content-type': 'application/json' } }), state];
}
export function isCancelled(state) { return state.cancelled; }
export function pulled(state) { return state.pulled; }
export function getRequest(url) { return new Request(url, { headers: { 'x-test': '1' } }); }
export async function usedResponse(text) { const r = new Response(text); await r.text(); return r; }
"#)]
extern "C" {
    #[wasm_bindgen(js_name = pieceResponse)]
    fn piece_response(pieces: js_sys::Array, end: &str) -> js_sys::Array;
    #[wasm_bindgen(js_name = isCancelled)]
    fn is_cancelled(state: &wasm_bindgen::JsValue) -> bool;
    fn pulled(state: &wasm_bindgen::JsValue) -> u32;
    #[wasm_bindgen(js_name = getRequest)]
    fn get_request(url: &str) -> web_sys::Request;
    #[wasm_bindgen(js_name = usedResponse)]
    fn used_response(text: &str) -> js_sys::Promise;
}

/// A Response whose body gives `pieces`, then ends as `end` says (see `pieceResponse`), and the
/// state to watch it by.
fn response_of(pieces: &[&str], end: &str) -> (web_sys::Response, wasm_bindgen::JsValue) {
    let array: js_sys::Array = pieces
        .iter()
        .map(|p| wasm_bindgen::JsValue::from_str(p))
        .collect();
    let pair = piece_response(array, end);
    (pair.get(0).unchecked_into(), pair.get(1))
}

/// URL, `Request`, `Response` and `Blob` sources are read as streams and parsed as they arrive:
/// the same document, columns and errors as bytes give; a malformed body fails at its bad byte
/// with the rest of the body cancelled (a body that never ends cannot hold the parse up); a
/// parse dropped mid-download cancels the download; a body that fails midway is a typed error;
/// a used body is a typed error; and the service stays usable after each.
pub async fn json_streamed_sources() {
    // The differential tests of the streamed parser, in this engine (fewer inputs: a debug build).
    let (valid, invalid) = tape::differential::check_stream_all(0x5_7EA4, 40);
    assert!(
        valid > 100 && invalid > 100,
        "{valid} valid, {invalid} invalid"
    );

    // A few MB with non-ASCII text, so that characters fall across the pieces of each source.
    let text = records_text(3, 1).replace("\"r", "\"é😀r");
    let expected = JsonDocument::parse_bytes(bytes(&text)).await.unwrap();
    let fields = ["id", "v", "s", "late", "kids/0/id"];
    let expected_columns = column_values(&expected.select("", &fields).await.unwrap());
    let n = expected.len("").await.unwrap();
    let last = format!("/{}", n - 1);
    let expected_last = expected.get(&last).await.unwrap();
    let sources = || {
        let blob = blob_of(&text);
        let url = create_object_url(&blob_of(&text));
        // A Response of many small pieces, cut inside characters and tokens.
        let cuts: Vec<&str> = {
            let mut pieces = Vec::new();
            let mut at = 0;
            let mut step = 1;
            while at < text.len() {
                let mut end = (at + step).min(text.len());
                while !text.is_char_boundary(end) {
                    end += 1;
                }
                pieces.push(&text[at..end]);
                at = end;
                step = step * 7 % 65_521 + 1;
            }
            pieces
        };
        let (response, _) = response_of(&cuts, "close");
        vec![
            ("blob", JsonSource::Blob(blob)),
            ("url", JsonSource::Url(url.clone())),
            ("request", JsonSource::Request(get_request(&url))),
            ("response", JsonSource::Response(response)),
        ]
    };
    for (name, source) in sources() {
        let doc = JsonDocument::parse(source).await.unwrap();
        assert_eq!(doc.info(), expected.info(), "{name}");
        assert_eq!(doc.get(&last).await.unwrap(), expected_last, "{name}");
        assert_eq!(
            doc.get("/0").await.unwrap(),
            expected.get("/0").await.unwrap()
        );
    }
    for (name, source) in sources() {
        let cols = parse_columns(source, &fields).await.unwrap();
        assert_eq!(column_values(&cols), expected_columns, "{name}");
    }

    // Malformed mid-stream, and the body never ends: the parse fails at the bad byte, with the
    // whole parse's position, and the rest of the body is cancelled.
    let good = "[{\"a\":1},\n {\"a\":\"é\"},\n";
    let bad = " {\"a\" 2}, {\"a\":3}";
    let expected_error =
        tape::differential::scalar_error(format!("{good}{bad}").as_bytes()).unwrap();
    for columns in [false, true] {
        let (response, state) = response_of(&[good, bad], "hang");
        let outcome = if columns {
            parse_columns(JsonSource::Response(response), &["a"])
                .await
                .map(|_| ())
        } else {
            JsonDocument::parse(JsonSource::Response(response))
                .await
                .map(|_| ())
        };
        match outcome {
            Err(IsolateError::Json {
                offset,
                line,
                column,
                ..
            }) => assert_eq!(
                (offset, line, column),
                (
                    Some(expected_error.offset),
                    Some(expected_error.line),
                    Some(expected_error.column)
                )
            ),
            other => panic!("expected a Json error, got {other:?}"),
        }
        super::eventually("the rest of the body is cancelled", || is_cancelled(&state)).await;
    }

    // A parse dropped mid-download (the body stalls after a piece) cancels the download, and the
    // service goes on.
    let (response, state) = response_of(&["[1,2,", "3,"], "hang");
    {
        let parse = Box::pin(JsonDocument::parse(JsonSource::Response(response)));
        let give_up = Box::pin(super::wait(300));
        match futures_util::future::select(parse, give_up).await {
            futures_util::future::Either::Left((outcome, _)) => {
                panic!("a body that never ends parsed: {outcome:?}")
            }
            futures_util::future::Either::Right(_) => {}
        }
    }
    assert_eq!(
        pulled(&state),
        2,
        "both pieces were read before the parse was dropped"
    );
    super::eventually("the abandoned download is cancelled", || {
        is_cancelled(&state)
    })
    .await;

    // A body that fails midway: a typed error with the reason.
    let (response, _) = response_of(&["[1,2,", "3,"], "error");
    match JsonDocument::parse(JsonSource::Response(response)).await {
        Err(IsolateError::Json {
            message,
            offset: None,
            ..
        }) => assert!(message.contains("failed on purpose"), "{message}"),
        other => panic!("expected a Json error, got {other:?}"),
    }
    // A used body: a typed error, before any isolate reads anything.
    let used: web_sys::Response = wasm_bindgen_futures::JsFuture::from(used_response("[1]"))
        .await
        .unwrap()
        .unchecked_into();
    match JsonDocument::parse(JsonSource::Response(used)).await {
        Err(IsolateError::Json { message, .. }) => {
            assert!(message.contains("bodyUsed"), "{message}")
        }
        other => panic!("expected a Json error, got {other:?}"),
    }
    // A Response without a body is the empty text: malformed at offset 0.
    let empty = web_sys::Response::new().unwrap();
    assert!(matches!(
        JsonDocument::parse(JsonSource::Response(empty)).await,
        Err(IsolateError::Json {
            offset: Some(0),
            ..
        })
    ));
    // Not an array, streamed: the columns' own error.
    let (response, _) = response_of(&["{\"a\":", "1}"], "close");
    match parse_columns(JsonSource::Response(response), &["a"]).await {
        Err(IsolateError::Json { message, .. }) => assert!(message.contains("not an array")),
        other => panic!("expected a Json error, got {other:?}"),
    }
    // Still usable.
    let (response, _) = response_of(&["[1,", "2]"], "close");
    let doc = JsonDocument::parse(JsonSource::Response(response))
        .await
        .unwrap();
    assert_eq!(doc.len("").await.unwrap(), 2);
}
