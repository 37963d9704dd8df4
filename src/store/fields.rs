//! The custom extension fields each tenant defines.

use diesel::prelude::*;

use super::schema::custom_fields;
use super::{now_millis, DbConn, StoreError};

/// A custom field row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = custom_fields)]
pub struct CustomFieldRow {
    pub tenant_id: String,
    pub name: String,
    pub name_lower: String,
    pub field_type: String,
    pub multi_valued: bool,
    pub created_at: i64,
}

/// Define a field; a name already defined (case-insensitively) is `StoreError::Unique`.
pub fn add_field(
    conn: &mut DbConn,
    tenant_id: &str,
    name: &str,
    field_type: &str,
    multi_valued: bool,
) -> Result<(), StoreError> {
    let row = CustomFieldRow {
        tenant_id: tenant_id.to_string(),
        name: name.to_string(),
        name_lower: name.to_lowercase(),
        field_type: field_type.to_string(),
        multi_valued,
        created_at: now_millis(),
    };
    diesel::insert_into(custom_fields::table)
        .values(&row)
        .execute(conn)?;
    Ok(())
}

/// A tenant's fields, by name.
pub fn list_fields(conn: &mut DbConn, tenant_id: &str) -> Result<Vec<CustomFieldRow>, StoreError> {
    Ok(custom_fields::table
        .filter(custom_fields::tenant_id.eq(tenant_id))
        .order(custom_fields::name_lower.asc())
        .select(CustomFieldRow::as_select())
        .load(conn)?)
}

/// Remove a field definition; returns whether it existed.
pub fn remove_field(conn: &mut DbConn, tenant_id: &str, name: &str) -> Result<bool, StoreError> {
    let n = diesel::delete(
        custom_fields::table
            .filter(custom_fields::tenant_id.eq(tenant_id))
            .filter(custom_fields::name_lower.eq(name.to_lowercase())),
    )
    .execute(conn)?;
    Ok(n > 0)
}
