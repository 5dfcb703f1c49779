"""Static checks of the Docker Compose deployment (no Docker needed).

``compose-spec.json`` is the Compose Specification's JSON schema, stored verbatim from
repository ``compose-spec/compose-spec``, path ``schema/compose-spec.json``, commit
``b2835e8acc1e42e7aecbc27a9bc4a1fc66ef21ba`` (Apache-2.0). To update it, replace the file
with a newer version from that repository and update its SHA-256 in ``test_compose_schema.py``.
"""
