/*
 * migrations: the SQL migrations compiled into the hookline binary.
 *
 * The definitions are generated at build time by deploy/embed-migrations.sh from
 * db/migrations/NNN_name.sql (see the Makefile); `hookline migrate` applies them, so
 * the binary needs no files at run time. Entries are in strictly increasing version
 * order. Everything is static, read-only data.
 */
#ifndef HOOKLINE_CLI_MIGRATIONS_H
#define HOOKLINE_CLI_MIGRATIONS_H

#include <stddef.h>

struct embedded_migration {
    int version;      /* the file name's leading number: 001_init.sql -> 1 */
    const char *name; /* the file name, e.g. "001_init.sql" */
    const char *sql;  /* the file's exact contents; may hold several statements */
};

extern const struct embedded_migration embedded_migrations[];
extern const size_t embedded_migrations_count;

#endif
