"""Package layout: the kernel lives in shared/govchain, the services in services/, both under
the one import package ``govchain`` (metadata and dependencies are in pyproject.toml)."""

from setuptools import find_packages, setup

KERNEL = ["govchain", *(f"govchain.{name}" for name in find_packages("shared/govchain"))]
SERVICES = ["govchain.services", *(f"govchain.services.{name}" for name in find_packages("services"))]

setup(
    packages=KERNEL + SERVICES,
    package_dir={"govchain": "shared/govchain", "govchain.services": "services"},
    package_data={
        # The kernel's own alembic trees (checkpoints, privacy vault) need their script template too.
        "govchain": ["**/migrations/*.mako", "protocol/contexts/*.jsonld"],
        "govchain.services": [
            "*/migrations/*.py", "*/migrations/*.mako", "*/migrations/versions/*.py", "*/definitions/*.json",
            "*/templates/*.html", "*/static/*",
        ]
    },
)
