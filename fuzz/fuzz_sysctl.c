/* Fuzz: any bytes as an image's sysctl.d file never crash the reader of
 * --root kernel settings, and a value is only ever taken from the file. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char root[64];

static void cleanup(void)	/* the file is unlinked after every input */
{
	char *e = xasprintf("%s/etc", root), *d = xasprintf("%s/etc/sysctl.d", root);
	rmdir(d);
	rmdir(e);
	rmdir(root);
	free(e);
	free(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!root[0]) {
		snprintf(root, sizeof(root), "/tmp/sshdoctor-fuzz-sysctl-%d", (int)getpid());
		char *e = xasprintf("%s/etc", root), *d = xasprintf("%s/etc/sysctl.d", root);
		mkdir(root, 0700);	/* once per process */
		atexit(cleanup);
		mkdir(e, 0700);
		mkdir(d, 0700);
		free(e);
		free(d);
	}
	char *path = xasprintf("%s/etc/sysctl.d/50-fuzz.conf", root);
	FILE *fp = fopen(path, "we");
	if (!fp)
		abort();
	fwrite(data, 1, size, fp);
	fclose(fp);
	long v = audit_image_sysctl(root, "tcp_keepalive_time", -12345);
	/* no "tcp_keepalive_time" in the bytes: the default, nothing invented */
	if (v != -12345 && !memmem(data, size, "keepalive_time", 14))
		abort();
	unlink(path);
	free(path);
	return 0;
}
