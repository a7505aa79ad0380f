/* log.c - one line per message on stderr; the level decides whether it shows. */
#include "log.h"

#include <stdio.h>

int log_level = LOG_INFO;

void log_msg(int level, const char *fmt, ...)
{
	static const char *const prefix[] = {
		"sshdoctor: ", "sshdoctor: ", "", "debug1: ", "debug2: ", "debug3: "
	};
	va_list ap;

	if (level > log_level || (log_level == LOG_QUIET && level > LOG_ERROR))
		return;
	fputs(prefix[level], stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void log_more(void)
{
	if (log_level < LOG_INFO)
		log_level = LOG_INFO;
	else if (log_level < LOG_DEBUG3)
		log_level++;
}
