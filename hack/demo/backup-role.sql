-- The role examples/postgresbackup.yaml backs up as: it may read every table
-- (PostgreSQL 14+), nothing more.
CREATE ROLE backup LOGIN PASSWORD 'change-me';
GRANT pg_read_all_data TO backup;
