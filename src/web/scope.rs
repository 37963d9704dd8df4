//! The tenant page's scope section: how many users the host app sees, and the form that
//! puts users and groups to sleep (out of scope whatever the rules).

use maud::{html, Markup};

use super::pages::Viewer;
use crate::service::scope::ScopeState;

/// What the section shows: the state, and the slept users (by mail) and groups (by name).
pub struct ScopeSection<'a> {
    pub state: &'a ScopeState,
    pub slept_users: &'a [String],
    pub slept_groups: &'a [String],
}

pub fn section(viewer: &Viewer<'_>, slug: &str, s: &ScopeSection<'_>) -> Markup {
    let rules = &s.state.config.rules;
    html! {
        section #scope {
            h2 { "Scope" }
            p #scope-counts {
                (s.state.in_scope) " in scope · " (s.state.out_of_scope) " out of scope · " (s.state.slept) " slept"
                @if s.state.config.evaluating() { " · " span.warn #scope-evaluating { "evaluating…" } }
            }
            p.muted {
                @if rules.is_empty() { "No scope rules: every user is in scope unless slept." }
                @else {
                    "Scope rules (set by the application):"
                    @if !rules.groups.is_empty() { " members of " (rules.groups.len()) " groups;" }
                    @if !rules.domains.is_empty() { " mail domains " (rules.domains.join(", ")) ";" }
                    @for (name, values) in &rules.attributes { " " (name) " in " (values.join(", ")) ";" }
                }
            }
            form method="post" action={ "/admin/t/" (slug) "/exclusions" } {
                input type="hidden" name="csrf" value=(viewer.csrf);
                p.muted { "Slept users, and members of slept groups, are out of scope whatever the rules (they are not deleted). One a line." }
                label { "Users (mail or id)" br; textarea name="users" id="slept-users" rows="4" cols="40" { (s.slept_users.join("\n")) } }
                label { "Groups (name or id)" br; textarea name="groups" id="slept-groups" rows="4" cols="40" { (s.slept_groups.join("\n")) } }
                br;
                button type="submit" id="save-exclusions" { "Save slept users and groups" }
            }
        }
    }
}
