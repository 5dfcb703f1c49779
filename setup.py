"""Package layout: the kernel lives in shared/govchain, the services in services/, both under
the one import package ``govchain`` (metadata and dependencies are in pyproject.toml)."""

from setuptools import find_namespace_packages, setup


def packages(where: str, prefix: str) -> list[str]:
    """Every folder under ``where`` as a package, data folders (migrations, templates, static)
    included: setuptools warns about each folder whose files ship but which is no package."""
    found = find_namespace_packages(where, exclude=["*__pycache__*", "*.egg-info*"])
    return [prefix, *(f"{prefix}.{name}" for name in found)]


KERNEL = packages("shared/govchain", "govchain")
SERVICES = packages("services", "govchain.services")

setup(
    packages=KERNEL + SERVICES,
    package_dir={"govchain": "shared/govchain", "govchain.services": "services"},
    package_data={
        # The kernel's own alembic trees (checkpoints, privacy vault) need their script template too.
        "govchain": ["**/migrations/*.mako", "protocol/contexts/*.jsonld"],
        "govchain.services": [
            "*/migrations/*.py",
            "*/migrations/*.mako",
            "*/migrations/versions/*.py",
            "*/definitions/*.json",
            "*/templates/*.html",
            "*/templates/*/*.html",
            "*/static/*",
            "*/i18n/*.json",
        ],
    },
)
