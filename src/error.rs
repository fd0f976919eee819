//! [`IsolateError`]: every way a task, an isolate or a pool can fail.

use std::fmt;

/// Why a task or an isolate did not produce its result.
///
/// Every future this crate returns settles, with `Ok` or with one of these; none waits forever
/// on a worker that is gone. The enum is `#[non_exhaustive]`: match the variants you handle and
/// keep a `_` arm.
///
/// | variant | what happened | is the isolate still usable? |
/// |---|---|---|
/// | [`Panicked`](Self::Panicked) | the task panicked | its worker is replaced (a panic aborts a wasm instance) |
/// | [`WorkerError`](Self::WorkerError) | an uncaught JS error or unhandled rejection in the worker | replaced |
/// | [`WorkerDied`](Self::WorkerDied) | the worker stopped mid-task (`close()`, crash, terminated) | replaced |
/// | [`StartFailed`](Self::StartFailed) | the worker could not load or instantiate the module | the next task tries a new worker |
/// | [`Codec`](Self::Codec) | input or output could not be (de)serialized | yes |
/// | [`Json`](Self::Json) | malformed JSON, or a query for a value that is not there | yes |
/// | [`Protocol`](Self::Protocol) | a message did not follow the wire protocol | yes, on the worker side |
/// | [`Unsupported`](Self::Unsupported) | the host lacks a capability (workers, `SharedArrayBuffer`) | n/a |
/// | [`NotReady`](Self::NotReady) | called before the library was initialised | n/a |
/// | [`TimedOut`](Self::TimedOut), [`Cancelled`](Self::Cancelled) | the task was stopped | its worker is replaced if it was running |
/// | [`QueueFull`](Self::QueueFull), [`Closed`](Self::Closed) | the pool refused the task | yes |
/// | [`Js`](Self::Js) | a browser API threw unexpectedly | depends |
///
/// ```
/// use wasm_isolates::IsolateError;
///
/// let err = IsolateError::Panicked {
///     message: "index out of bounds".into(),
///     location: Some("src/lib.rs:10:5".into()),
/// };
/// assert_eq!(err.to_string(), "task panicked at src/lib.rs:10:5: index out of bounds");
/// assert!(err.worker_was_replaced());
/// ```
// `Deserialize` is written by hand below (same data model as the derive's), for size.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub enum IsolateError {
    /// The task panicked. `message` is the panic payload, `location` is `file:line:column`.
    /// The worker's wasm instance is unusable after a panic (panics abort on wasm), so it is
    /// terminated and a fresh one takes its place; other tasks are not affected.
    Panicked {
        /// The panic message.
        message: String,
        /// Where the panic happened, `file:line:column`, when known.
        location: Option<String>,
    },
    /// Code in the worker raised an uncaught JS error or left a promise rejection unhandled
    /// while the task ran. Treated as fatal for that worker (its instance may be inconsistent),
    /// which is replaced. This is Dart's `errorsAreFatal: true` for one-shot tasks.
    WorkerError {
        /// The error's message.
        message: String,
        /// The JS stack, when the engine reported one.
        stack: Option<String>,
    },
    /// The worker stopped while the task was running — it called `close()`, ran out of memory,
    /// crashed or was terminated — so the task ended without a result (Dart: "computation ended
    /// without result").
    WorkerDied {
        /// What was observed.
        reason: String,
    },
    /// A worker could not start: its script did not load, the wasm glue could not be imported,
    /// or instantiating the module failed (for example a `#[wasm_bindgen(start)]` function that
    /// panics in a worker; see [`is_isolate`](crate::platform::capabilities::is_isolate)).
    StartFailed {
        /// What failed, as the browser reported it.
        message: String,
    },
    /// A value could not be serialized on one side or deserialized on the other.
    Codec {
        /// The serializer's message.
        message: String,
    },
    /// A message on the wire was malformed (wrong magic, unknown version or kind, truncated).
    Protocol {
        /// What was wrong with it.
        message: String,
    },
    /// The host lacks something this call needs.
    Unsupported {
        /// Which capability is missing, e.g. `"Worker"` or `"SharedArrayBuffer"`.
        capability: String,
        /// How to get it.
        message: String,
    },
    /// Called before the library was ready (the JS API before `init()` resolved).
    NotReady {
        /// What is not ready.
        message: String,
    },
    /// The task ran longer than its timeout; its worker was stopped.
    TimedOut {
        /// The timeout in milliseconds.
        after_ms: u64,
    },
    /// The task was cancelled before it finished.
    Cancelled,
    /// The pool's queue is at its bound (returned by `try_run`).
    QueueFull {
        /// The bound.
        capacity: usize,
    },
    /// The pool or isolate was closed before the task could run.
    Closed,
    /// JSON could not be parsed (with where: byte `offset`, 1-based `line` and `column`), or a
    /// query named no value of the right kind (no position then).
    Json {
        /// What is wrong.
        message: String,
        /// Byte offset of the error in the text.
        offset: Option<u64>,
        /// 1-based line of the error.
        line: Option<u64>,
        /// 1-based column of the error.
        column: Option<u64>,
    },
    /// A browser API threw where it should not have.
    Js {
        /// The exception's message.
        message: String,
    },
}

impl IsolateError {
    /// True when the failure cost the task its worker, so the worker was terminated and a new one
    /// replaces it.
    ///
    /// ```
    /// # use wasm_isolates::IsolateError;
    /// assert!(!IsolateError::Codec { message: "x".into() }.worker_was_replaced());
    /// ```
    pub fn worker_was_replaced(&self) -> bool {
        matches!(
            self,
            Self::Panicked { .. }
                | Self::WorkerError { .. }
                | Self::WorkerDied { .. }
                | Self::TimedOut { .. }
        )
    }

    pub(crate) fn codec(e: impl fmt::Display) -> Self {
        Self::Codec {
            message: e.to_string(),
        }
    }

    pub(crate) fn protocol(e: impl fmt::Display) -> Self {
        Self::Protocol {
            message: e.to_string(),
        }
    }
}

impl fmt::Display for IsolateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Panicked {
                message,
                location: Some(loc),
            } => write!(f, "task panicked at {loc}: {message}"),
            Self::Panicked {
                message,
                location: None,
            } => write!(f, "task panicked: {message}"),
            Self::WorkerError { message, .. } => write!(f, "uncaught error in worker: {message}"),
            Self::WorkerDied { reason } => {
                write!(f, "worker died before the task finished: {reason}")
            }
            Self::StartFailed { message } => write!(f, "worker failed to start: {message}"),
            Self::Codec { message } => write!(f, "codec error: {message}"),
            Self::Protocol { message } => write!(f, "protocol error: {message}"),
            Self::Unsupported {
                capability,
                message,
            } => write!(f, "unsupported: {capability} is not available: {message}"),
            Self::NotReady { message } => write!(f, "not ready: {message}"),
            Self::TimedOut { after_ms } => write!(f, "task timed out after {after_ms} ms"),
            Self::Cancelled => f.write_str("task was cancelled"),
            Self::QueueFull { capacity } => write!(f, "queue is full ({capacity} tasks waiting)"),
            Self::Closed => f.write_str("pool or isolate is closed"),
            Self::Json {
                message,
                offset: Some(offset),
                ..
            } => write!(f, "invalid JSON at byte {offset}: {message}"),
            Self::Json { message, .. } => write!(f, "JSON: {message}"),
            Self::Js { message } => write!(f, "JS error: {message}"),
        }
    }
}

impl std::error::Error for IsolateError {}

/// `IsolateError`'s `Deserialize`, accepting exactly what the derived one would: an externally
/// tagged enum of struct variants (fields as a sequence, as MessagePack carries them, or as a map,
/// where unknown fields are ignored and a missing `Option` is `None`) and two unit variants.
///
/// Why by hand: every reply carries a `Result<_, IsolateError>`, and the derive gives each of the
/// thirteen variants its own struct and field visitors, each of which rmp-serde's deserializer
/// instantiates its whole decoding loop for: about 97 KB of the wasm (opt-level "z"; 86 KB as one
/// function at opt-level 3). Here one visitor serves every variant.
mod de {
    use super::IsolateError;
    use serde::de::{
        self, Deserializer, EnumAccess, IgnoredAny, MapAccess, SeqAccess, VariantAccess, Visitor,
    };
    use std::fmt;

    const VARIANTS: &[&str] = &[
        "Panicked",
        "WorkerError",
        "WorkerDied",
        "StartFailed",
        "Codec",
        "Protocol",
        "Unsupported",
        "NotReady",
        "TimedOut",
        "Cancelled",
        "QueueFull",
        "Closed",
        "Json",
        "Js",
    ];

    #[derive(serde::Deserialize, Clone, Copy)]
    #[serde(variant_identifier)]
    enum Kind {
        Panicked,
        WorkerError,
        WorkerDied,
        StartFailed,
        Codec,
        Protocol,
        Unsupported,
        NotReady,
        TimedOut,
        Cancelled,
        QueueFull,
        Closed,
        Json,
        Js,
    }

    /// Every field name of every variant; `Other` is one that no variant has.
    #[derive(serde::Deserialize, Clone, Copy, PartialEq, Eq)]
    #[serde(field_identifier, rename_all = "snake_case")]
    enum Field {
        Message,
        Location,
        Stack,
        Reason,
        Capability,
        AfterMs,
        Capacity,
        Offset,
        Line,
        Column,
        #[serde(other)]
        Other,
    }

    impl Kind {
        /// The variant's fields, in declaration order (the order of the sequence form).
        fn fields(self) -> &'static [Field] {
            use Field::*;
            match self {
                Kind::Panicked => &[Message, Location],
                Kind::WorkerError => &[Message, Stack],
                Kind::WorkerDied => &[Reason],
                Kind::Unsupported => &[Capability, Message],
                Kind::TimedOut => &[AfterMs],
                Kind::QueueFull => &[Capacity],
                Kind::Json => &[Message, Offset, Line, Column],
                Kind::Cancelled | Kind::Closed => &[],
                Kind::StartFailed | Kind::Codec | Kind::Protocol | Kind::NotReady | Kind::Js => {
                    &[Message]
                }
            }
        }

        fn names(self) -> &'static [&'static str] {
            match self {
                Kind::Panicked => &["message", "location"],
                Kind::WorkerError => &["message", "stack"],
                Kind::WorkerDied => &["reason"],
                Kind::Unsupported => &["capability", "message"],
                Kind::TimedOut => &["after_ms"],
                Kind::QueueFull => &["capacity"],
                Kind::Json => &["message", "offset", "line", "column"],
                Kind::Cancelled | Kind::Closed => &[],
                Kind::StartFailed | Kind::Codec | Kind::Protocol | Kind::NotReady | Kind::Js => {
                    &["message"]
                }
            }
        }
    }

    impl Field {
        fn name(self) -> &'static str {
            match self {
                Field::Message => "message",
                Field::Location => "location",
                Field::Stack => "stack",
                Field::Reason => "reason",
                Field::Capability => "capability",
                Field::AfterMs => "after_ms",
                Field::Capacity => "capacity",
                Field::Offset => "offset",
                Field::Line => "line",
                Field::Column => "column",
                Field::Other => "",
            }
        }
    }

    /// What the fields read so far hold; each slot is `None` until its field is seen.
    #[derive(Default)]
    struct Slots {
        message: Option<String>,
        location: Option<Option<String>>,
        stack: Option<Option<String>>,
        reason: Option<String>,
        capability: Option<String>,
        after_ms: Option<u64>,
        capacity: Option<usize>,
        offset: Option<Option<u64>>,
        line: Option<Option<u64>>,
        column: Option<Option<u64>>,
    }

    /// Where a field's value goes, so that the sequence and the map forms share one reader.
    enum Slot<'a> {
        Text(&'a mut Option<String>),
        MaybeText(&'a mut Option<Option<String>>),
        Number(&'a mut Option<u64>),
        MaybeNumber(&'a mut Option<Option<u64>>),
        Size(&'a mut Option<usize>),
    }

    impl Slots {
        fn slot(&mut self, field: Field) -> Option<Slot<'_>> {
            Some(match field {
                Field::Message => Slot::Text(&mut self.message),
                Field::Location => Slot::MaybeText(&mut self.location),
                Field::Stack => Slot::MaybeText(&mut self.stack),
                Field::Reason => Slot::Text(&mut self.reason),
                Field::Capability => Slot::Text(&mut self.capability),
                Field::AfterMs => Slot::Number(&mut self.after_ms),
                Field::Capacity => Slot::Size(&mut self.capacity),
                Field::Offset => Slot::MaybeNumber(&mut self.offset),
                Field::Line => Slot::MaybeNumber(&mut self.line),
                Field::Column => Slot::MaybeNumber(&mut self.column),
                Field::Other => return None,
            })
        }

        fn build<E: de::Error>(self, kind: Kind) -> Result<IsolateError, E> {
            fn need<T, E: de::Error>(v: Option<T>, name: &'static str) -> Result<T, E> {
                v.ok_or_else(|| E::missing_field(name))
            }
            let message = |m: Option<String>| need::<_, E>(m, "message");
            Ok(match kind {
                Kind::Panicked => IsolateError::Panicked {
                    message: message(self.message)?,
                    location: self.location.flatten(),
                },
                Kind::WorkerError => IsolateError::WorkerError {
                    message: message(self.message)?,
                    stack: self.stack.flatten(),
                },
                Kind::WorkerDied => IsolateError::WorkerDied {
                    reason: need(self.reason, "reason")?,
                },
                Kind::StartFailed => IsolateError::StartFailed {
                    message: message(self.message)?,
                },
                Kind::Codec => IsolateError::Codec {
                    message: message(self.message)?,
                },
                Kind::Protocol => IsolateError::Protocol {
                    message: message(self.message)?,
                },
                Kind::Unsupported => IsolateError::Unsupported {
                    capability: need(self.capability, "capability")?,
                    message: message(self.message)?,
                },
                Kind::NotReady => IsolateError::NotReady {
                    message: message(self.message)?,
                },
                Kind::TimedOut => IsolateError::TimedOut {
                    after_ms: need(self.after_ms, "after_ms")?,
                },
                Kind::Cancelled => IsolateError::Cancelled,
                Kind::QueueFull => IsolateError::QueueFull {
                    capacity: need(self.capacity, "capacity")?,
                },
                Kind::Closed => IsolateError::Closed,
                Kind::Json => IsolateError::Json {
                    message: message(self.message)?,
                    offset: self.offset.flatten(),
                    line: self.line.flatten(),
                    column: self.column.flatten(),
                },
                Kind::Js => IsolateError::Js {
                    message: message(self.message)?,
                },
            })
        }
    }

    impl<'de> serde::Deserialize<'de> for IsolateError {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            deserializer.deserialize_enum("IsolateError", VARIANTS, ErrorVisitor)
        }
    }

    struct ErrorVisitor;

    impl<'de> Visitor<'de> for ErrorVisitor {
        type Value = IsolateError;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("enum IsolateError")
        }

        fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<IsolateError, A::Error> {
            let (kind, variant) = data.variant::<Kind>()?;
            if let Kind::Cancelled | Kind::Closed = kind {
                variant.unit_variant()?;
                return Slots::default().build(kind);
            }
            variant.struct_variant(kind.names(), FieldsVisitor(kind))
        }
    }

    /// The fields of the struct variant `.0`.
    struct FieldsVisitor(Kind);

    impl<'de> Visitor<'de> for FieldsVisitor {
        type Value = IsolateError;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a struct variant of IsolateError")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<IsolateError, A::Error> {
            let mut slots = Slots::default();
            for (i, &field) in self.0.fields().iter().enumerate() {
                // Every field of a variant has a slot.
                let present = match slots.slot(field) {
                    Some(Slot::Text(s)) => seq.next_element()?.map(|v| *s = Some(v)),
                    Some(Slot::MaybeText(s)) => seq.next_element()?.map(|v| *s = Some(v)),
                    Some(Slot::Number(s)) => seq.next_element()?.map(|v| *s = Some(v)),
                    Some(Slot::MaybeNumber(s)) => seq.next_element()?.map(|v| *s = Some(v)),
                    Some(Slot::Size(s)) => seq.next_element()?.map(|v| *s = Some(v)),
                    None => Some(()),
                };
                if present.is_none() {
                    return Err(de::Error::invalid_length(i, &self));
                }
            }
            slots.build(self.0)
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<IsolateError, A::Error> {
            let mut slots = Slots::default();
            while let Some(field) = map.next_key::<Field>()? {
                // A field another variant has is as unknown here as one no variant has.
                let slot = match self.0.fields().contains(&field) {
                    true => slots.slot(field),
                    false => None,
                };
                let duplicate = match slot {
                    Some(Slot::Text(s)) => s.replace(map.next_value()?).is_some(),
                    Some(Slot::MaybeText(s)) => s.replace(map.next_value()?).is_some(),
                    Some(Slot::Number(s)) => s.replace(map.next_value()?).is_some(),
                    Some(Slot::MaybeNumber(s)) => s.replace(map.next_value()?).is_some(),
                    Some(Slot::Size(s)) => s.replace(map.next_value()?).is_some(),
                    None => {
                        map.next_value::<IgnoredAny>()?;
                        false
                    }
                };
                if duplicate {
                    return Err(de::Error::duplicate_field(field.name()));
                }
            }
            slots.build(self.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_the_cause() {
        let e = IsolateError::Unsupported {
            capability: "SharedArrayBuffer".into(),
            message: "serve with COOP/COEP".into(),
        };
        assert!(e.to_string().contains("SharedArrayBuffer"));
        assert_eq!(
            IsolateError::TimedOut { after_ms: 5 }.to_string(),
            "task timed out after 5 ms"
        );
    }

    fn every_variant() -> Vec<IsolateError> {
        let text = || "t".to_string();
        vec![
            IsolateError::Panicked {
                message: text(),
                location: Some(text()),
            },
            IsolateError::Panicked {
                message: text(),
                location: None,
            },
            IsolateError::WorkerError {
                message: text(),
                stack: Some(text()),
            },
            IsolateError::WorkerDied { reason: text() },
            IsolateError::StartFailed { message: text() },
            IsolateError::Codec { message: text() },
            IsolateError::Protocol { message: text() },
            IsolateError::Unsupported {
                capability: text(),
                message: "m".into(),
            },
            IsolateError::NotReady { message: text() },
            IsolateError::TimedOut { after_ms: u64::MAX },
            IsolateError::Cancelled,
            IsolateError::QueueFull { capacity: 7 },
            IsolateError::Closed,
            IsolateError::Json {
                message: text(),
                offset: Some(1),
                line: None,
                column: Some(3),
            },
            IsolateError::Js { message: text() },
        ]
    }

    #[test]
    fn round_trips_in_every_form() {
        for e in every_variant() {
            let seq = rmp_serde::to_vec(&e).unwrap();
            assert_eq!(rmp_serde::from_slice::<IsolateError>(&seq).unwrap(), e);
            let named = rmp_serde::to_vec_named(&e).unwrap();
            assert_eq!(rmp_serde::from_slice::<IsolateError>(&named).unwrap(), e);
            let json = serde_json::to_string(&e).unwrap();
            assert_eq!(
                serde_json::from_str::<IsolateError>(&json).unwrap(),
                e,
                "{json}"
            );
        }
    }

    #[test]
    fn reads_maps_as_the_derive_would() {
        let read = serde_json::from_str::<IsolateError>;
        // Unknown fields, including another variant's, are ignored; a missing Option is None.
        assert_eq!(
            read(r#"{"Panicked":{"message":"m","stack":1,"x":[2]}}"#).unwrap(),
            IsolateError::Panicked {
                message: "m".into(),
                location: None
            }
        );
        assert_eq!(read(r#""Closed""#).unwrap(), IsolateError::Closed);
        for bad in [
            r#"{"Panicked":{"location":"l"}}"#,
            r#"{"Codec":{"message":"a","message":"b"}}"#,
            r#"{"TimedOut":{"after_ms":"soon"}}"#,
            r#"{"Json":["m",1,2]}"#,
            r#"{"Nope":{}}"#,
            r#""Panicked""#,
        ] {
            assert!(read(bad).is_err(), "{bad}");
        }
        let err = read(r#"{"Panicked":{"location":"l"}}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("missing field `message`"), "{err}");
    }

    #[test]
    fn is_std_error() {
        fn takes(_: &dyn std::error::Error) {}
        takes(&IsolateError::Cancelled);
    }
}
