pub mod pair;
pub mod taxii;
