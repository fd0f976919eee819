//! Zero-copy transfer: [`TransferBuffer`] for Rust data, [`Transferable`] for JS objects.
//!
//! # What is copied, exactly
//! - **Into a `TransferBuffer`** from Rust data ([`TransferBuffer::from_slice`]): one `memcpy`
//!   out of this instance's linear memory into a fresh `ArrayBuffer`. From an existing JS buffer
//!   ([`TransferBuffer::from_array_buffer`]): nothing.
//! - **The hop between threads**: nothing. The buffer is in the message's transfer list, so the
//!   browser moves it (constant time at any size) and the sender's `ArrayBuffer` is *detached*
//!   (`byteLength` 0) — it cannot be read or written after sending.
//! - **On the receiving side**: nothing until you ask. [`TransferBuffer::view`] is a typed-array
//!   view over the received memory (no copy); [`TransferBuffer::to_vec`] copies it into this
//!   instance's linear memory (one `memcpy`) when Rust code needs a slice.
//!
//! Buffers may sit anywhere in a message — task inputs and outputs, nested in structs, in
//! `Vec`s, `Option`s and maps: the codec finds every one and transfers it.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::marker::PhantomData;

/// An element type a [`TransferBuffer`] can hold: the numeric types with a JS typed array.
pub trait Element:
    Copy + Default + fmt::Debug + Serialize + for<'de> Deserialize<'de> + 'static + sealed::Sealed
{
    /// The matching JS typed array (`Uint8Array`, `Float64Array`, ...).
    #[cfg(target_arch = "wasm32")]
    type Array: wasm_bindgen::JsCast + Clone;
    #[cfg(target_arch = "wasm32")]
    #[doc(hidden)]
    fn view(buffer: &js_sys::ArrayBuffer) -> Self::Array;
    #[cfg(target_arch = "wasm32")]
    #[doc(hidden)]
    fn copy_into_js(data: &[Self]) -> js_sys::ArrayBuffer;
    #[cfg(target_arch = "wasm32")]
    #[doc(hidden)]
    fn copy_out_of_js(buffer: &js_sys::ArrayBuffer) -> Vec<Self>;
}

mod sealed {
    pub trait Sealed {}
}

macro_rules! element {
    ($($t:ty => $array:ident),* $(,)?) => {$(
        impl sealed::Sealed for $t {}
        impl Element for $t {
            #[cfg(target_arch = "wasm32")]
            type Array = js_sys::$array;
            #[cfg(target_arch = "wasm32")]
            fn view(buffer: &js_sys::ArrayBuffer) -> Self::Array {
                js_sys::$array::new(buffer)
            }
            #[cfg(target_arch = "wasm32")]
            fn copy_into_js(data: &[Self]) -> js_sys::ArrayBuffer {
                let array = js_sys::$array::new_with_length(data.len() as u32);
                array.copy_from(data);
                array.buffer()
            }
            #[cfg(target_arch = "wasm32")]
            fn copy_out_of_js(buffer: &js_sys::ArrayBuffer) -> Vec<Self> {
                js_sys::$array::new(buffer).to_vec()
            }
        }
    )*};
}

element!(
    u8 => Uint8Array, i8 => Int8Array, u16 => Uint16Array, i16 => Int16Array,
    u32 => Uint32Array, i32 => Int32Array, f32 => Float32Array, f64 => Float64Array,
);

/// The newtype name under which an attachment index is serialized.
#[cfg(target_arch = "wasm32")]
pub(crate) const ATTACHMENT: &str = "$wasm_isolates::attachment";

/// A buffer of `T`s that moves between isolates without being copied.
///
/// Put it anywhere in a task's input or output (or a port message): the codec adds its
/// `ArrayBuffer` to the transfer list, so the browser moves it in constant time and the sender's
/// copy is detached. See the [module docs](crate::wire::transfer) for exactly where copies happen.
///
/// ```no_run
/// # async fn demo() -> Result<(), wasm_isolates::IsolateError> {
/// use serde::{Deserialize, Serialize};
/// use wasm_isolates::{run, TransferBuffer};
///
/// #[derive(Serialize, Deserialize)]
/// struct Image { width: u32, height: u32, rgba: TransferBuffer<u8> }
///
/// fn invert(mut img: Image) -> Image {
///     let mut px = img.rgba.to_vec();
///     px.iter_mut().for_each(|b| *b = 255 - *b);
///     img.rgba = TransferBuffer::from_slice(&px);
///     img
/// }
///
/// let img = Image { width: 1, height: 1, rgba: TransferBuffer::from_slice(&[1, 2, 3, 255]) };
/// let out = run(invert, img).await?;
/// assert_eq!(out.rgba.to_vec(), vec![254, 253, 252, 0]);
/// # Ok(()) }
/// ```
pub struct TransferBuffer<T: Element = u8> {
    #[cfg(target_arch = "wasm32")]
    buffer: js_sys::ArrayBuffer,
    #[cfg(not(target_arch = "wasm32"))]
    data: Vec<T>,
    _element: PhantomData<T>,
}

impl<T: Element> TransferBuffer<T> {
    /// Copies `data` into a new buffer (one `memcpy` out of wasm memory).
    pub fn from_slice(data: &[T]) -> Self {
        Self {
            #[cfg(target_arch = "wasm32")]
            buffer: T::copy_into_js(data),
            #[cfg(not(target_arch = "wasm32"))]
            data: data.to_vec(),
            _element: PhantomData,
        }
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        #[cfg(target_arch = "wasm32")]
        {
            self.buffer.byte_length() as usize / std::mem::size_of::<T>()
        }
        #[cfg(not(target_arch = "wasm32"))]
        {
            self.data.len()
        }
    }

    /// True when the buffer holds no elements (or was detached by a transfer).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Copies the elements into this instance's memory (one `memcpy`).
    pub fn to_vec(&self) -> Vec<T> {
        #[cfg(target_arch = "wasm32")]
        {
            T::copy_out_of_js(&self.buffer)
        }
        #[cfg(not(target_arch = "wasm32"))]
        {
            self.data.clone()
        }
    }
}

#[cfg(target_arch = "wasm32")]
impl<T: Element> TransferBuffer<T> {
    /// Wraps an existing JS `ArrayBuffer` without copying. Fails with
    /// [`IsolateError::Codec`](crate::error::IsolateError::Codec) when its length is not a multiple of
    /// `T`'s size.
    pub fn from_array_buffer(
        buffer: js_sys::ArrayBuffer,
    ) -> Result<Self, crate::error::IsolateError> {
        let size = std::mem::size_of::<T>() as u32;
        if buffer.byte_length() % size != 0 {
            return Err(crate::error::IsolateError::Codec {
                message: format!(
                    "an ArrayBuffer of {} bytes is not a whole number of {}-byte elements",
                    buffer.byte_length(),
                    size
                ),
            });
        }
        Ok(Self {
            buffer,
            _element: PhantomData,
        })
    }

    /// A typed-array view (`Uint8Array`, `Float64Array`, ...) over the buffer: no copy.
    pub fn view(&self) -> T::Array {
        T::view(&self.buffer)
    }

    /// The underlying `ArrayBuffer`.
    pub fn array_buffer(&self) -> &js_sys::ArrayBuffer {
        &self.buffer
    }

    /// Unwraps the `ArrayBuffer` (to hand to JS without a copy).
    pub fn into_array_buffer(self) -> js_sys::ArrayBuffer {
        self.buffer
    }
}

impl<T: Element> From<Vec<T>> for TransferBuffer<T> {
    fn from(v: Vec<T>) -> Self {
        Self::from_slice(&v)
    }
}

impl<T: Element> From<&[T]> for TransferBuffer<T> {
    fn from(v: &[T]) -> Self {
        Self::from_slice(v)
    }
}

impl<T: Element> fmt::Debug for TransferBuffer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransferBuffer")
            .field("element", &std::any::type_name::<T>())
            .field("len", &self.len())
            .finish()
    }
}

impl<T: Element> Serialize for TransferBuffer<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[cfg(target_arch = "wasm32")]
        {
            match crate::wire::attachments::attach(self.buffer.clone().into()) {
                Ok(index) => serializer.serialize_newtype_struct(ATTACHMENT, &index),
                // Serialized by another serde format (e.g. to JSON): inline the elements.
                Err(_) => self.to_vec().serialize(serializer),
            }
        }
        #[cfg(not(target_arch = "wasm32"))]
        {
            self.data.serialize(serializer)
        }
    }
}

impl<'de, T: Element> Deserialize<'de> for TransferBuffer<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[cfg(target_arch = "wasm32")]
        {
            use serde::de::Error;
            use wasm_bindgen::JsCast;
            if !crate::wire::attachments::receiving() {
                return Vec::<T>::deserialize(deserializer).map(Self::from);
            }
            let index = Index::deserialize(deserializer)?.0;
            let value = crate::wire::attachments::take(index).map_err(D::Error::custom)?;
            let buffer = value.dyn_into::<js_sys::ArrayBuffer>().map_err(|_| {
                D::Error::custom("attachment for a TransferBuffer is not an ArrayBuffer")
            })?;
            Self::from_array_buffer(buffer).map_err(D::Error::custom)
        }
        #[cfg(not(target_arch = "wasm32"))]
        {
            Vec::<T>::deserialize(deserializer).map(Self::from)
        }
    }
}

/// An attachment index, serialized as a newtype so formats may tell it apart.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
pub(crate) struct Index(pub(crate) u32);

impl<'de> Deserialize<'de> for Index {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Index;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an attachment index")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Index, E> {
                u32::try_from(v)
                    .map(Index)
                    .map_err(|_| E::custom("attachment index out of range"))
            }
            fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Index, D::Error> {
                u32::deserialize(d).map(Index)
            }
        }
        deserializer.deserialize_newtype_struct("$wasm_isolates::attachment", V)
    }
}

/// A JS object that travels by transfer: a `MessagePort`, an `ArrayBuffer` or typed array, an
/// `ImageBitmap`, an `OffscreenCanvas`, a stream — anything the browser can transfer. Other JS
/// values wrapped in it are structured-cloned instead.
///
/// On the receiving side the value is checked to be a `T`; a mismatch is an
/// [`IsolateError::Codec`](crate::error::IsolateError::Codec).
///
/// ```no_run
/// # #[cfg(target_arch = "wasm32")]
/// # async fn demo() -> Result<(), wasm_isolates::IsolateError> {
/// use wasm_isolates::{run, Transferable};
///
/// fn byte_length(buf: Transferable<js_sys::ArrayBuffer>) -> u32 {
///     buf.0.byte_length()
/// }
/// let buf = js_sys::ArrayBuffer::new(1024);
/// assert_eq!(run(byte_length, Transferable(buf.clone())).await?, 1024);
/// assert_eq!(buf.byte_length(), 0); // moved, not copied
/// # Ok(()) }
/// ```
#[cfg(target_arch = "wasm32")]
#[derive(Debug, Clone)]
pub struct Transferable<T>(pub T);

#[cfg(target_arch = "wasm32")]
impl<T: AsRef<wasm_bindgen::JsValue>> Serialize for Transferable<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match crate::wire::attachments::attach(self.0.as_ref().clone()) {
            Ok(index) => serializer.serialize_newtype_struct(ATTACHMENT, &index),
            Err(_) => Err(serde::ser::Error::custom(
                "a Transferable JS value can only be sent by wasm-isolates",
            )),
        }
    }
}

#[cfg(target_arch = "wasm32")]
impl<'de, T: wasm_bindgen::JsCast> Deserialize<'de> for Transferable<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        use wasm_bindgen::JsCast;
        let index = Index::deserialize(deserializer)?.0;
        let value = crate::wire::attachments::take(index).map_err(D::Error::custom)?;
        value.dyn_into::<T>().map(Transferable).map_err(|_| {
            D::Error::custom(format!(
                "attachment {index} is not a {}",
                std::any::type_name::<T>()
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize, Deserialize, Debug)]
    struct Frame {
        id: u32,
        samples: TransferBuffer<f32>,
        extra: Vec<TransferBuffer<u8>>,
    }

    #[test]
    fn native_buffers_round_trip_inline() {
        let frame = Frame {
            id: 7,
            samples: TransferBuffer::from_slice(&[0.5, 1.5]),
            extra: vec![vec![1u8, 2].into(), TransferBuffer::from_slice(&[])],
        };
        let (bytes, _) = crate::wire::codec::encode_after(0, &frame).unwrap();
        let back: Frame = crate::wire::codec::decode(&bytes, Default::default()).unwrap();
        assert_eq!(back.id, 7);
        assert_eq!(back.samples.to_vec(), vec![0.5, 1.5]);
        assert_eq!(back.extra[0].to_vec(), vec![1, 2]);
        assert!(back.extra[1].is_empty());
        assert_eq!(
            format!("{:?}", back.samples),
            "TransferBuffer { element: \"f32\", len: 2 }"
        );
    }
}
