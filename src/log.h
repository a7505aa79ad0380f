/* log.h - diagnostics on stderr, OpenSSH-style levels (-q .. -vvv). */
#ifndef SSHDOCTOR_LOG_H
#define SSHDOCTOR_LOG_H

#include "util.h"

enum log_level { LOG_QUIET = -1, LOG_ERROR = 0, LOG_INFO = 1, LOG_VERBOSE = 2,
		 LOG_DEBUG1 = 3, LOG_DEBUG2 = 4, LOG_DEBUG3 = 5 };

extern int log_level;

/* One -v: one level more, from quiet back to info first. */
void log_more(void);
void log_msg(int level, const char *fmt, ...) PRINTF_LIKE(2, 3);
#define error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define verbose(...) log_msg(LOG_VERBOSE, __VA_ARGS__)
#define debug(...) log_msg(LOG_DEBUG1, __VA_ARGS__)
#define debug2(...) log_msg(LOG_DEBUG2, __VA_ARGS__)
#define debug3(...) log_msg(LOG_DEBUG3, __VA_ARGS__)

#endif
