//! The tenant page's role mapping: its rules (each with a Remove button), a form to add a
//! rule and one for the default role. Every form carries the page's CSRF token.

use maud::{html, Markup};

use super::pages::Viewer;
use crate::scim::role_mapping::{Match, RoleMapping, MAX_ROLE_CHARS};

/// The "Roles" section of a tenant's page.
pub fn section(viewer: &Viewer<'_>, slug: &str, mapping: &RoleMapping) -> Markup {
    let base = format!("/admin/t/{slug}/role-mappings");
    html! {
        section #roles {
            h2 { "Roles" }
            p.muted { "Each user's role in the product: the role of every rule that matches (members of a group, through nested groups too, or a role the identity provider sends), else the default." }
            table #role-rules {
                tr { th { "Who" } th { "Gets role" } th {} }
                @for rule in &mapping.rules {
                    @let (kind, value, label) = match &rule.matches {
                        Match::Group(id) => ("group", id.as_str(), "Members of group"),
                        Match::IdpRole(v) => ("idpRole", v.as_str(), "Identity provider role"),
                    };
                    tr {
                        td { (label) " " code { (value) } }
                        td { (rule.role) }
                        td {
                            form method="post" action={ (base) "/rules/remove" } {
                                input type="hidden" name="csrf" value=(viewer.csrf);
                                input type="hidden" name="kind" value=(kind);
                                input type="hidden" name="value" value=(value);
                                input type="hidden" name="role" value=(rule.role);
                                button type="submit" { "Remove" }
                            }
                        }
                    }
                }
                @if mapping.rules.is_empty() {
                    tr { td colspan="3" { "No rules yet." } }
                }
            }
            form #add-role-rule method="post" action={ (base) "/rules" } {
                input type="hidden" name="csrf" value=(viewer.csrf);
                select name="kind" {
                    option value="group" { "Members of group (id)" }
                    option value="idpRole" { "Identity provider role" }
                }
                input type="text" name="value" required placeholder="group id or role value";
                input type="text" name="role" required maxlength=(MAX_ROLE_CHARS) placeholder="role, e.g. editor";
                button type="submit" { "Add rule" }
            }
            form #default-role method="post" action={ (base) "/default" } {
                input type="hidden" name="csrf" value=(viewer.csrf);
                label { "Default role (when no rule matches; empty for none) "
                    input type="text" name="role" maxlength=(MAX_ROLE_CHARS) value=(mapping.default.as_deref().unwrap_or(""));
                }
                button type="submit" { "Save default" }
            }
        }
    }
}
