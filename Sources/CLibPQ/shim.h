#ifndef ASYNCTASK_CLIBPQ_SHIM_H
#define ASYNCTASK_CLIBPQ_SHIM_H
#include <libpq-fe.h>
#include <poll.h>

// libpq's PG_DIAG_* error-field codes are character-literal macros, which Swift cannot import; the ones
// PostgresClient reads, as constants for PQresultErrorField.
static const int asynctask_pg_diag_sqlstate = PG_DIAG_SQLSTATE;
static const int asynctask_pg_diag_message_primary = PG_DIAG_MESSAGE_PRIMARY;
static const int asynctask_pg_diag_message_detail = PG_DIAG_MESSAGE_DETAIL;
static const int asynctask_pg_diag_message_hint = PG_DIAG_MESSAGE_HINT;
static const int asynctask_pg_diag_constraint_name = PG_DIAG_CONSTRAINT_NAME;
#endif
