/* keep_journal.c - keep's events as structured journal entries. Apart because
 * <systemd/sd-journal.h> brings <syslog.h>, whose LOG_* macros clash with log.h. */
#include <systemd/sd-journal.h>

#include "keep.h"

void keep_journal_send(const char *tunnel, const char *msg, int prio, const char *kind,
		       const char *cause, long long downtime_ms)
{
	sd_journal_send("MESSAGE=keep: %s: %s", tunnel, msg, "PRIORITY=%d", prio,
			"SYSLOG_IDENTIFIER=sshdoctor", "SSHDOCTOR_TUNNEL=%s", tunnel,
			"SSHDOCTOR_EVENT=%s", kind, "SSHDOCTOR_CAUSE=%s", cause ? cause : "",
			"SSHDOCTOR_DOWNTIME_MS=%lld", downtime_ms, NULL);
}
