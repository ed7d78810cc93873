-- First start of a fresh PostgreSQL (docker-compose): the app's own plain role and database.
-- The app must not be a superuser or BYPASSRLS role, or row-level security would not apply to it.
create role clinicflow login password 'clinicflow' nosuperuser nobypassrls;
create database clinicflow owner clinicflow;
