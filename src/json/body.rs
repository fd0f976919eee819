//! A document's bytes read as a stream, piece by piece as they arrive, and parsed as they arrive
//! (`tape::StreamParser`): a download and its parse overlap instead of adding up. URLs,
//! `Request`s, `Response`s and `Blob`s are read so (src/json/stream.js does the reading).

use crate::json::tape::{StreamParser, TapeView};
use crate::json::wire::{failure, syntax_failure, JsonFailure, Source};
use crate::wire::control::CancellationToken;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

#[wasm_bindgen(module = "/src/json/stream.js")]
extern "C" {
    /// Calling thread: `[url, init]` to make `request` again in the isolate.
    #[wasm_bindgen(js_name = requestParts)]
    pub(crate) fn request_parts(request: &web_sys::Request) -> js_sys::Promise;
    /// Calling thread: `[body, length, stop]` of `response` (a stream, a Blob or null; length -1
    /// if unknown; `stop` cancels a streamed body, or is null).
    #[wasm_bindgen(js_name = responseBody)]
    pub(crate) fn response_body(response: &web_sys::Response) -> js_sys::Promise;
    #[wasm_bindgen(js_name = openUrl)]
    fn open_url(url: &str) -> js_sys::Promise;
    #[wasm_bindgen(js_name = openRequest)]
    fn open_request(url: &str, init: &js_sys::Object) -> js_sys::Promise;
    #[wasm_bindgen(js_name = openBlob)]
    fn open_blob(blob: &web_sys::Blob) -> js_sys::Promise;
    #[wasm_bindgen(js_name = openStream)]
    fn open_stream(stream: &js_sys::Object) -> js_sys::Promise;
    #[wasm_bindgen(js_name = readPiece)]
    fn read_piece(reader: &JsValue) -> js_sys::Promise;
    #[wasm_bindgen(js_name = cancelReader)]
    fn cancel_reader(reader: &JsValue);
}

/// A body being read. Dropped before its end (a malformed document, a cancelled task), it
/// cancels the rest of the read: a download stops.
pub(crate) struct Body {
    reader: JsValue,
    /// Bytes the body will give, when the source says (a `Blob`'s size, a Content-Length).
    pub(crate) length: Option<u64>,
    ended: bool,
}

impl Drop for Body {
    fn drop(&mut self) {
        if !self.ended {
            cancel_reader(&self.reader);
        }
    }
}

/// Whether the isolate reads `source` as a stream (not bytes it already holds).
pub(crate) fn is_streamed(source: &Source) -> bool {
    !matches!(source, Source::Bytes(_) | Source::Staged)
}

impl Body {
    /// Opens a streamed source (see [`is_streamed`]): fetches a URL or a request (an HTTP error
    /// status fails here), or starts reading a `Blob` or a transferred body.
    pub(crate) async fn open(source: Source) -> Result<Body, JsonFailure> {
        let (promise, known) = match source {
            Source::Url(url) => (open_url(&url), None),
            Source::Request { url, init } => (open_request(&url, &init.0), None),
            Source::Blob(blob) => (open_blob(&blob.0), None),
            Source::Stream { body, length } => (open_stream(&body.0), length),
            Source::Bytes(_) | Source::Staged => {
                return Err(failure("this source is not read as a stream"))
            }
        };
        let pair: js_sys::Array = JsFuture::from(promise).await.map_err(js_failure)?.into();
        let length = pair.get(1).as_f64().filter(|n| *n >= 0.0).map(|n| n as u64);
        Ok(Body {
            reader: pair.get(0),
            length: known.or(length),
            ended: false,
        })
    }

    /// The next piece, or `None` at the end. A body that fails midway (a network error, a
    /// stream that errors) is a failure with the browser's reason. While the piece is awaited,
    /// `token` is looked at every [`CANCEL_POLL_MS`]: a task cancelled while its download
    /// stalls stops (and the download with it) within the pool's grace period, keeping its
    /// isolate, instead of having its worker terminated.
    pub(crate) async fn next(
        &mut self,
        token: CancellationToken,
    ) -> Result<Option<js_sys::Uint8Array>, JsonFailure> {
        use std::future::Future;
        use std::pin::Pin;
        use std::task::Poll;
        let mut read = JsFuture::from(read_piece(&self.reader));
        let piece = loop {
            let mut tick: Option<Tick> = None;
            let outcome = std::future::poll_fn(|cx| {
                if let Poll::Ready(piece) = Pin::new(&mut read).poll(cx) {
                    return Poll::Ready(Some(piece));
                }
                // Pieces mostly come at once: a timer only for one that does not.
                let tick = tick.get_or_insert_with(|| Tick::start(CANCEL_POLL_MS));
                match Pin::new(&mut tick.fired).poll(cx) {
                    Poll::Ready(_) => Poll::Ready(None),
                    Poll::Pending => Poll::Pending,
                }
            })
            .await;
            match outcome {
                Some(piece) => break piece,
                None if token.is_cancelled() => return Err(failure("the parse was cancelled")),
                None => {}
            }
        };
        let piece =
            piece.map_err(|e| failure(format!("reading the body failed: {}", js_message(&e))))?;
        if piece.is_undefined() {
            self.ended = true;
            return Ok(None);
        }
        Ok(Some(piece.unchecked_into()))
    }

    /// The whole body, unparsed (for a document cut into parts, which needs all of it first).
    pub(crate) async fn read_all(mut self) -> Result<Vec<u8>, JsonFailure> {
        let token = CancellationToken::current();
        let mut bytes = Vec::with_capacity(capacity(self.length));
        while let Some(piece) = self.next(token).await? {
            let at = bytes.len();
            bytes.resize(at + piece.length() as usize, 0);
            piece.copy_to(&mut bytes[at..]);
        }
        Ok(bytes)
    }

    /// Reads the body to its end into `parser`, parsing each piece as it arrives; reports
    /// progress (bytes parsed, of `length` or 0 when unknown) every [`PROGRESS_STEP`] bytes.
    /// Stops at the first syntax error (the rest of the body is not read), or when the task is
    /// cancelled.
    ///
    /// [`PROGRESS_STEP`]: crate::json::progress::PROGRESS_STEP
    pub(crate) async fn parse_into(
        &mut self,
        parser: &mut StreamParser,
        progress: &crate::json::progress::ProgressPort,
        token: CancellationToken,
        on_root_element: &mut impl FnMut(TapeView<'_>, usize) -> bool,
    ) -> Result<(), JsonFailure> {
        let mut report = crate::json::progress::ParseProgress::new(progress, capacity(self.length));
        while let Some(piece) = self.next(token).await? {
            parser
                .push_with(
                    piece.length() as usize,
                    |into| piece.copy_to(into),
                    on_root_element,
                )
                .map_err(syntax_failure)?;
            crate::wire::control::report_progress(parser.received().min(i32::MAX as usize) as u32);
            report.at(u32::try_from(parser.parsed()).unwrap_or(u32::MAX));
            if token.is_cancelled() {
                return Err(failure("the parse was cancelled"));
            }
        }
        Ok(())
    }
}

/// How often a task waiting for the next piece of a body looks whether it was cancelled (well
/// within the pool's default grace period of 100 ms).
const CANCEL_POLL_MS: u32 = 20;

/// A timer: `fired` resolves after the time given; dropped before, the timer is stopped.
struct Tick {
    id: JsValue,
    fired: JsFuture,
}

impl Tick {
    fn start(ms: u32) -> Tick {
        let mut id = JsValue::UNDEFINED;
        let promise = js_sys::Promise::new(&mut |resolve, _| {
            id = crate::platform::host::start_timer(ms, &resolve);
        });
        Tick {
            id,
            fired: JsFuture::from(promise),
        }
    }
}

impl Drop for Tick {
    fn drop(&mut self) {
        crate::platform::host::stop_timer(&self.id);
    }
}

/// What to reserve for a body of `length` bytes: at most 1 GiB on a server's word.
pub(crate) fn capacity(length: Option<u64>) -> usize {
    length.unwrap_or(0).min(1 << 30) as usize
}

fn js_message(e: &JsValue) -> String {
    crate::wire::message::js_message(e)
}

fn js_failure(e: JsValue) -> JsonFailure {
    failure(js_message(&e))
}
