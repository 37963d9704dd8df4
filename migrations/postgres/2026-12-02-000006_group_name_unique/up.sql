-- Entra matches groups on displayName and needs it unique: one live group per name (case
-- insensitively) in a tenant. Existing duplicates keep their resources; the newer ones are
-- indexed under their name and id, so filters by the name find the oldest.
UPDATE groups SET display_name_lower = display_name_lower || ' (duplicate ' || id || ')'
WHERE deleted_at IS NULL AND EXISTS (
    SELECT 1 FROM groups older
    WHERE older.tenant_id = groups.tenant_id
      AND older.display_name_lower = groups.display_name_lower
      AND older.deleted_at IS NULL
      AND (older.created_at < groups.created_at OR (older.created_at = groups.created_at AND older.id < groups.id))
);
CREATE UNIQUE INDEX groups_display_name_unique ON groups (tenant_id, display_name_lower) WHERE deleted_at IS NULL;
