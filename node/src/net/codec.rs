//! The `/concord/sync/1` stream codec.
//!
//! One request then one response per stream. Each is one frame: a 4-byte
//! big-endian length, then that many bytes of JSON ([`SyncRequest`] or
//! [`SyncResponse`], see `concord_protocol::wire`). A length over the
//! message kind's bound (`MAX_SYNC_REQUEST_BYTES`,
//! `MAX_SYNC_RESPONSE_BYTES`) is refused before any byte of the body is read
//! or allocated, and a message over its bound is never written.

use std::io;

use concord_protocol::wire::{
    self, MAX_SYNC_REQUEST_BYTES, MAX_SYNC_RESPONSE_BYTES, SyncRequest, SyncResponse, WireError,
};
use libp2p::StreamProtocol;
use libp2p::futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The sync protocol name.
pub const SYNC_PROTOCOL: &str = "/concord/sync/1";

/// The request-response codec for [`SYNC_PROTOCOL`].
#[derive(Debug, Clone, Copy, Default)]
pub struct SyncCodec;

impl libp2p::request_response::Codec for SyncCodec {
    type Protocol = StreamProtocol;
    type Request = SyncRequest;
    type Response = SyncResponse;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<SyncRequest>
    where
        T: AsyncRead + Unpin + Send,
    {
        read_frame(io, MAX_SYNC_REQUEST_BYTES).await
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<SyncResponse>
    where
        T: AsyncRead + Unpin + Send,
    {
        read_frame(io, MAX_SYNC_RESPONSE_BYTES).await
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        request: SyncRequest,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_frame(io, &request, MAX_SYNC_REQUEST_BYTES).await
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        response: SyncResponse,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_frame(io, &response, MAX_SYNC_RESPONSE_BYTES).await
    }
}

/// Reads one frame of at most `max` body bytes and decodes it.
///
/// # Errors
/// `InvalidData` wrapping a [`WireError`] for a length over `max` (checked
/// before reading the body) or a malformed body; `UnexpectedEof` for a
/// frame cut short.
pub async fn read_frame<T, M>(io: &mut T, max: usize) -> io::Result<M>
where
    T: AsyncRead + Unpin + Send,
    M: DeserializeOwned,
{
    let mut prefix = [0u8; 4];
    io.read_exact(&mut prefix).await?;
    // A length that does not fit usize is certainly over the bound.
    let size = usize::try_from(u32::from_be_bytes(prefix)).unwrap_or(usize::MAX);
    if size > max {
        return Err(invalid_data(WireError::TooLarge { size, max }));
    }
    let mut body = vec![0u8; size];
    io.read_exact(&mut body).await?;
    wire::decode(&body, max).map_err(invalid_data)
}

/// Encodes `message` and writes it as one frame, refusing to write anything
/// when it is over `max` bytes.
///
/// # Errors
/// `InvalidData` wrapping [`WireError::TooLarge`]; I/O errors of `io`.
pub async fn write_frame<T, M>(io: &mut T, message: &M, max: usize) -> io::Result<()>
where
    T: AsyncWrite + Unpin + Send,
    M: Serialize,
{
    let body = wire::encode(message);
    let size = body.len();
    let prefix = match u32::try_from(size) {
        Ok(len) if size <= max => len.to_be_bytes(),
        _ => return Err(invalid_data(WireError::TooLarge { size, max })),
    };
    io.write_all(&prefix).await?;
    io.write_all(&body).await?;
    io.flush().await
}

fn invalid_data(error: WireError) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, error)
}
