//! Length-prefixed Noise messages: a u16 big-endian length, then the message.

use std::io::ErrorKind;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::LinkError;

/// Bytes in a length prefix.
pub(crate) const PREFIX_LEN: usize = 2;

/// Reads one length-prefixed message at a time into a buffer allocated once.
///
/// Progress lives in the struct rather than in the future, so dropping a
/// `read` call (a timeout, a `select!`) loses no bytes and the next call
/// resumes where it stopped.
pub(crate) struct FrameReader {
    /// Prefix plus the largest message accepted here, allocated up front so
    /// no length a peer sends can make us allocate.
    buf: Box<[u8]>,
    /// How many bytes of the current frame (prefix included) have arrived.
    filled: usize,
}

impl FrameReader {
    /// A reader for messages of at most `max_body` bytes (at most
    /// [`crate::MAX_NOISE_MESSAGE`], which a u16 prefix cannot exceed anyway).
    pub(crate) fn new(max_body: usize) -> Self {
        FrameReader {
            buf: vec![0u8; PREFIX_LEN + max_body].into_boxed_slice(),
            filled: 0,
        }
    }

    /// Reads the next frame and returns its body (never empty).
    ///
    /// `mid_message` says whether the stream ending before this frame would
    /// cut a message short (an error) rather than close the link cleanly.
    pub(crate) async fn read<R>(
        &mut self,
        stream: &mut R,
        mid_message: bool,
    ) -> Result<&[u8], LinkError>
    where
        R: AsyncRead + Unpin,
    {
        let end = loop {
            let end = if self.filled < PREFIX_LEN {
                PREFIX_LEN
            } else {
                let len = usize::from(u16::from_be_bytes([self.buf[0], self.buf[1]]));
                if len == 0 {
                    return Err(LinkError::Malformed("zero length prefix"));
                }
                if PREFIX_LEN + len > self.buf.len() {
                    return Err(LinkError::Malformed("message longer than allowed here"));
                }
                PREFIX_LEN + len
            };
            if self.filled == end && end > PREFIX_LEN {
                break end;
            }
            // `read` is cancel-safe: if this future is dropped here, no byte was consumed.
            let n = stream.read(&mut self.buf[self.filled..end]).await?;
            if n == 0 {
                return Err(if self.filled == 0 && !mid_message {
                    LinkError::Closed
                } else {
                    LinkError::Io(
                        ErrorKind::UnexpectedEof,
                        "stream ended inside a message".into(),
                    )
                });
            }
            self.filled += n;
        };
        self.filled = 0;
        Ok(&self.buf[PREFIX_LEN..end])
    }
}

/// Writes `body` behind its length prefix in one `write_all`, without flushing.
///
/// `buf` must hold the prefix followed by the body (the first two bytes are
/// overwritten), so the frame leaves in one write instead of two.
pub(crate) async fn write_prefixed<W>(
    stream: &mut W,
    buf: &mut [u8],
    body_len: usize,
) -> Result<(), LinkError>
where
    W: AsyncWrite + Unpin,
{
    let len = u16::try_from(body_len)
        .ok()
        .filter(|&len| len != 0)
        .ok_or(LinkError::Malformed("frame length outside 1..=65535"))?;
    buf[..PREFIX_LEN].copy_from_slice(&len.to_be_bytes());
    stream.write_all(&buf[..PREFIX_LEN + body_len]).await?;
    Ok(())
}
