-- Run once by the postgres image when its data volume is first initialised
-- (mounted at /docker-entrypoint-initdb.d, as POSTGRES_USER in POSTGRES_DB = govchain).
--
-- Every service keeps its tables in the database `govchain` (each service's tables and
-- alembic version table carry its name), except the standby orderer: each ledger instance
-- keeps its own index of the BLOCKS stream, so `ledger-standby` gets a database of its own.
--
-- On a pg-data volume created before this file existed, run it by hand once:
--   docker compose exec postgres psql -U govchain -d govchain -f /docker-entrypoint-initdb.d/10-govchain-databases.sql
SELECT 'CREATE DATABASE govchain_ledger_standby OWNER govchain'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'govchain_ledger_standby')\gexec
