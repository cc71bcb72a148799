//! See the crate documentation for this layer's place in the data flow.
