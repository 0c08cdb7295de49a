-- Engine-neutral SQL (SQLite and PostgreSQL).

-- Short, stable item numbers for DAV objects: the device never sees an href, only
-- "{CollectionId}:{item}". Numbers are never reused within a folder.
CREATE TABLE dav_items (
    login     TEXT   NOT NULL,
    folder_id BIGINT NOT NULL,
    item_id   BIGINT NOT NULL,
    href      TEXT   NOT NULL,
    PRIMARY KEY (login, folder_id, item_id)
);
CREATE UNIQUE INDEX dav_items_href ON dav_items (login, folder_id, href);
