//! An established session and its two halves, which fragment and reassemble
//! link messages over Noise transport frames.

use std::io::ErrorKind;
use std::sync::Arc;

use snow::{HandshakeState, StatelessTransportState};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};

use crate::frame::{write_prefixed, FrameReader, PREFIX_LEN};
use crate::{LinkError, FLAG_LAST, FLAG_MORE, MAX_CHUNK, MAX_FRAME_PLAINTEXT, MAX_NOISE_MESSAGE};

/// An established session: the stream plus the keys the handshake agreed.
pub struct Session<S> {
    /// The connected stream, positioned just after the handshake.
    stream: S,
    /// Stateless so the two halves can share it; each half counts its own nonces.
    transport: Arc<StatelessTransportState>,
    /// The peer's static key, authenticated by the handshake.
    remote_static: [u8; 32],
}

impl<S> Session<S> {
    /// Turns a finished handshake into a session.
    pub(crate) fn establish(stream: S, hs: HandshakeState) -> Result<Self, LinkError> {
        let transport = hs
            .into_stateless_transport_mode()
            .map_err(|_| LinkError::Crypto)?;
        let remote_static = transport
            .get_remote_static()
            .and_then(|key| key.try_into().ok())
            .ok_or(LinkError::Crypto)?;
        Ok(Session {
            stream,
            transport: Arc::new(transport),
            remote_static,
        })
    }

    /// The peer's static public key, authenticated by the handshake; the
    /// caller maps it to the peer it has pinned.
    pub fn remote_static(&self) -> [u8; 32] {
        self.remote_static
    }

    /// Splits the session so one task can read while another writes.
    pub fn split(self) -> (Receiver<ReadHalf<S>>, Sender<WriteHalf<S>>)
    where
        S: AsyncRead + AsyncWrite,
    {
        let (reader, writer) = tokio::io::split(self.stream);
        (
            Receiver::new(reader, Arc::clone(&self.transport)),
            Sender::new(writer, self.transport),
        )
    }

    /// Test access to the raw parts, for writing hand-made frames.
    #[cfg(test)]
    pub(crate) fn into_parts(self) -> (S, Arc<StatelessTransportState>) {
        (self.stream, self.transport)
    }
}

/// The error a half returns once an earlier failure or cancellation has left
/// the stream at an unknown position, where carrying on could misframe data.
fn unusable(what: &str) -> LinkError {
    LinkError::Io(
        ErrorKind::BrokenPipe,
        format!("link {what} unusable after an earlier error"),
    )
}

/// The writing half of a session.
pub struct Sender<W> {
    /// Where frames go.
    writer: W,
    /// Shared with the receiving half; only the sending key is used here.
    transport: Arc<StatelessTransportState>,
    /// Nonce of the next frame: starts at 0 and rises by one per frame, as the peer expects.
    nonce: u64,
    /// Flag byte plus chunk of the frame being built.
    plain: Box<[u8]>,
    /// Length prefix plus ciphertext of the frame being sent.
    out: Box<[u8]>,
    /// Set while a send is under way, so one that failed or was cancelled
    /// midway (leaving half a message on the wire) blocks later sends.
    broken: bool,
}

impl<W> Sender<W> {
    /// A sender whose first frame uses nonce 0.
    pub(crate) fn new(writer: W, transport: Arc<StatelessTransportState>) -> Self {
        Sender {
            writer,
            transport,
            nonce: 0,
            plain: vec![0u8; MAX_FRAME_PLAINTEXT].into_boxed_slice(),
            out: vec![0u8; PREFIX_LEN + MAX_NOISE_MESSAGE].into_boxed_slice(),
            broken: false,
        }
    }

    /// Test access to what was written, when the writer is a buffer.
    #[cfg(test)]
    pub(crate) fn into_writer(self) -> W {
        self.writer
    }
}

impl<W: AsyncWrite + Unpin> Sender<W> {
    /// Encrypts and writes one link message (fragmenting as needed) and flushes.
    ///
    /// Not cancel-safe: if this future is dropped before it completes, or it
    /// fails, every later call fails, because the peer may have received only
    /// part of the message; drop the session and reconnect.
    pub async fn send(&mut self, message: &[u8]) -> Result<(), LinkError> {
        if self.broken {
            return Err(unusable("sender"));
        }
        self.broken = true;
        let mut rest = message;
        loop {
            let (chunk, tail) = rest.split_at(rest.len().min(MAX_CHUNK));
            // An empty message still goes out, as a single empty last fragment.
            let flag = if tail.is_empty() {
                FLAG_LAST
            } else {
                FLAG_MORE
            };
            self.send_frame(flag, chunk).await?;
            if tail.is_empty() {
                break;
            }
            rest = tail;
        }
        self.writer.flush().await?;
        self.broken = false;
        Ok(())
    }

    /// Encrypts and writes one frame; does not flush.
    async fn send_frame(&mut self, flag: u8, chunk: &[u8]) -> Result<(), LinkError> {
        let plain_len = 1 + chunk.len();
        self.plain[0] = flag;
        self.plain[1..plain_len].copy_from_slice(chunk);
        let n = self
            .transport
            .write_message(
                self.nonce,
                &self.plain[..plain_len],
                &mut self.out[PREFIX_LEN..],
            )
            .map_err(|_| LinkError::Crypto)?;
        // snow refuses nonce u64::MAX, so this cannot overflow.
        self.nonce += 1;
        write_prefixed(&mut self.writer, &mut self.out, n).await
    }
}

/// The reading half of a session.
pub struct Receiver<R> {
    /// Where frames come from.
    reader: R,
    /// Shared with the sending half; only the receiving key is used here.
    transport: Arc<StatelessTransportState>,
    /// Nonce the next frame must have used: a replayed, dropped or reordered
    /// frame therefore fails to decrypt.
    nonce: u64,
    /// Holds a partly read frame across cancelled calls.
    frames: FrameReader,
    /// Decrypted plaintext of the current frame.
    plain: Box<[u8]>,
    /// Fragments of the message being reassembled; kept across cancelled
    /// calls so a `select!` that drops `recv` midway loses nothing.
    partial: Vec<u8>,
    /// Set after an error that leaves the stream mid-message.
    broken: bool,
}

impl<R> Receiver<R> {
    /// A receiver expecting nonce 0 first.
    pub(crate) fn new(reader: R, transport: Arc<StatelessTransportState>) -> Self {
        Receiver {
            reader,
            transport,
            nonce: 0,
            frames: FrameReader::new(MAX_NOISE_MESSAGE),
            plain: vec![0u8; MAX_NOISE_MESSAGE].into_boxed_slice(),
            partial: Vec::new(),
            broken: false,
        }
    }
}

impl<R: AsyncRead + Unpin> Receiver<R> {
    /// Reads, decrypts and reassembles one link message of at most
    /// `max_message` bytes.
    ///
    /// Cancel-safe: if the future is dropped (a timeout, a `select!`), the
    /// bytes already read are kept and the next call carries on. After any
    /// error other than [`LinkError::Closed`], every later call fails, since
    /// the stream is then somewhere inside a message.
    pub async fn recv(&mut self, max_message: usize) -> Result<Vec<u8>, LinkError> {
        if self.broken {
            return Err(unusable("receiver"));
        }
        let result = self.reassemble(max_message).await;
        if matches!(result, Err(ref err) if *err != LinkError::Closed) {
            self.broken = true;
        }
        result
    }

    /// Reads frames until one carries the last-fragment flag.
    async fn reassemble(&mut self, max_message: usize) -> Result<Vec<u8>, LinkError> {
        loop {
            // Non-last fragments are never empty, so a non-empty buffer means mid-message.
            let mid_message = !self.partial.is_empty();
            let frame = self.frames.read(&mut self.reader, mid_message).await?;
            let n = self
                .transport
                .read_message(self.nonce, frame, &mut self.plain)
                .map_err(|_| LinkError::Crypto)?;
            // snow refuses nonce u64::MAX, so this cannot overflow.
            self.nonce += 1;
            let (&flag, chunk) = self.plain[..n]
                .split_first()
                .ok_or(LinkError::Malformed("frame without a flag byte"))?;
            let last = match flag {
                FLAG_LAST => true,
                // An empty middle fragment would let a peer keep us looping without progress.
                FLAG_MORE if chunk.is_empty() => {
                    return Err(LinkError::Malformed("empty middle fragment"))
                }
                FLAG_MORE => false,
                _ => return Err(LinkError::Malformed("unknown fragment flag")),
            };
            // Checked before growing the buffer, so a peer cannot make us allocate past the limit.
            if chunk.len() > max_message.saturating_sub(self.partial.len()) {
                return Err(LinkError::TooLarge { limit: max_message });
            }
            self.partial.extend_from_slice(chunk);
            if last {
                return Ok(std::mem::take(&mut self.partial));
            }
        }
    }
}
