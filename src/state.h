/* state.h - $XDG_STATE_HOME/sshdoctor (default ~/.local/state/sshdoctor):
 * remembered idle results per target, and the manifests and backups of --fix. */
#ifndef SSHDOCTOR_STATE_H
#define SSHDOCTOR_STATE_H

#include <json-c/json.h>

/* The state directory, created (mode 700) if missing; NULL when impossible. Caller frees. */
char *state_dir(void);
/* A path inside it: state_path("idle", "host_22_user.json"). Creates the subdir. */
char *state_path(const char *sub, const char *name);
/* Safe file-name form of a target ("user@host:port" -> "user@host_port"). Caller frees. */
char *state_key(const char *host, int port, const char *user);

/* Stores / loads a JSON object atomically; load returns NULL when absent or bad. */
int state_save_json(const char *sub, const char *name, struct json_object *obj);
struct json_object *state_load_json(const char *sub, const char *name);

/* 0 when path and every directory above it are root's and writable by nobody
 * else (sticky ancestors like /tmp allowed); -1 with *err saying which is not.
 * Used as root before trusting or writing change sets. */
int state_trusted(const char *path, char **err);

#endif
