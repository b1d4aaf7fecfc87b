//! X25519 static keys.

use snow::params::DHChoice;
use snow::resolvers::{CryptoResolver, DefaultResolver};
use zeroize::{Zeroize, ZeroizeOnDrop};

/// An X25519 static secret; zeroized on drop and without `Debug` so it never
/// lands in a log.
///
/// snow 0.10 keeps its own unzeroized copies inside handshake states, so this
/// type limits, rather than eliminates, copies of the key in memory.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct StaticSecret([u8; 32]);

impl StaticSecret {
    /// Wraps raw secret bytes, e.g. as loaded from the station's key file.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        StaticSecret(bytes)
    }

    /// The raw secret bytes, for handing to Noise or writing to the key file.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

/// Generates a fresh X25519 keypair with snow's RNG; returns (secret, public).
///
/// # Panics
///
/// If the operating system's random number generator fails, as there is no
/// safe way to continue without one.
pub fn generate_keypair() -> (StaticSecret, [u8; 32]) {
    let params = crate::handshake::params();
    let mut pair = snow::Builder::new(params)
        .generate_keypair()
        .expect("the operating system's random number generator failed");
    let mut secret = [0u8; 32];
    secret.copy_from_slice(&pair.private);
    pair.private.zeroize();
    let mut public = [0u8; 32];
    public.copy_from_slice(&pair.public);
    (StaticSecret(secret), public)
}

/// Derives the X25519 public key of a secret, with the same curve code that
/// the handshake uses so the two can never disagree.
pub fn public_key(secret: &StaticSecret) -> [u8; 32] {
    let mut dh = DefaultResolver
        .resolve_dh(&DHChoice::Curve25519)
        .expect("snow's default resolver is built with Curve25519");
    dh.set(secret.as_bytes());
    let mut public = [0u8; 32];
    public.copy_from_slice(dh.pubkey());
    // snow's DH object does not zeroize itself; overwrite its copy of the secret.
    dh.set(&[0u8; 32]);
    public
}
