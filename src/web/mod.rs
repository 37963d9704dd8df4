//! The token page's HTML: server-rendered with maud (escaped by construction), a little CSS,
//! and JavaScript only for the copy buttons.

pub mod guides;
pub mod oauth;
pub mod pages;
pub mod roles;
pub mod scope;
