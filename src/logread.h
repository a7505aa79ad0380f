/* logread.h - log sources: plain or gzip files (zlib), stdin, the systemd journal.
 * Lines are split in large blocks with memchr and handed to the engine; lines
 * longer than LOGREAD_MAX_LINE are skipped and counted. */
#ifndef SSHDOCTOR_LOGREAD_H
#define SSHDOCTOR_LOGREAD_H

#include "logs.h"
#include "util.h"

#define LOGREAD_MAX_LINE (64 * 1024)

/* Reads one file ("-" = stdin) into the engine. Returns 0 when something was
 * read, -1 when the file could not be opened or read at all. */
int logread_file(struct logs_state *st, const char *path);
/* Reads the local journal (sshd units and identifiers, kernel) since since_ms. */
int logread_journal(struct logs_state *st, int64_t since_ms, int64_t until_ms);
/* The usual log files that exist here, rotated ones included (oldest first). */
void logread_defaults(struct strvec *out);

#endif
