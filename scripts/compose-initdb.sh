#!/bin/sh
# Runs once, when the compose stack's Postgres volume is new (the postgres image runs
# /docker-entrypoint-initdb.d/*.sh): berth gets a role of its own that owns its database and is no
# superuser, so nothing berth runs can reach the server beyond its own data.
set -eu
psql -v ON_ERROR_STOP=1 --username postgres <<SQL
create role berth login nosuperuser nocreatedb nocreaterole password '${BERTH_DB_PASSWORD}';
create database berth owner berth;
SQL
