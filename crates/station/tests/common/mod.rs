pub mod pair;
pub mod receive;
pub mod taxii;
